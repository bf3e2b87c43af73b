package httpapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/store"
)

// The code → status table covers the whole vocabulary and nothing else: a
// new code in store.Codes fails here until it has a status.
func TestStatusOf_CoversEveryCode(t *testing.T) {
	for _, code := range store.Codes {
		s, ok := statusOf[code]
		require.True(t, ok, "statusOf has no status for %q", code)
		require.Equal(t, s, StatusOf(code))
		require.GreaterOrEqual(t, s, 400, code)
	}
	require.Len(t, statusOf, len(store.Codes), "statusOf maps only codes of store.Codes")
	require.Equal(t, http.StatusInternalServerError, StatusOf("brand_new"))
}
