package store

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/store/kv"
)

// Codes lists every E constant of errors.go, once: the tables of httpapi
// and cli are complete when they cover Codes, so Codes must be complete.
func TestCodes_ListsEveryErrorCode(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	require.NoError(t, err)
	var declared []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			for i, name := range spec.(*ast.ValueSpec).Names {
				if !strings.HasPrefix(name.Name, "E") {
					continue
				}
				lit, ok := spec.(*ast.ValueSpec).Values[i].(*ast.BasicLit)
				require.True(t, ok, "%s is a string literal", name.Name)
				v, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				declared = append(declared, v)
			}
		}
	}
	require.NotEmpty(t, declared)
	require.ElementsMatch(t, declared, Codes, "Codes lists every code of errors.go once")
}

// ErrLocked is an unavailable error, and the errors Open returns for a
// locked file are ErrLocked to errors.Is while still wrapping kv.ErrLocked.
func TestErrLocked_IsUnavailable(t *testing.T) {
	require.Equal(t, EUnavailable, ErrorCode(ErrLocked))
	require.ErrorIs(t, ErrLocked, kv.ErrLocked)

	err := lockedError(fmt.Errorf("open x.db: %w (waited 1s)", kv.ErrLocked))
	require.ErrorIs(t, err, ErrLocked)
	require.ErrorIs(t, err, kv.ErrLocked)
	require.Equal(t, EUnavailable, ErrorCode(err))
	require.Equal(t, "open x.db: the database file is in use by another promo process (waited 1s); stop it or talk to it through its socket", err.Error())
	require.ErrorIs(t, fmt.Errorf("wrapped: %w", err), ErrLocked)

	require.NotErrorIs(t, Errorf(EUnavailable, "the disk is full"), ErrLocked, "other unavailable errors are not ErrLocked")
	require.False(t, errors.Is(&Error{Code: EInternal, Err: kv.ErrLocked}, ErrLocked))
}
