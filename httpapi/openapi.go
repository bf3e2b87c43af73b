package httpapi

import (
	_ "embed"
	"net/http"
	"strconv"
)

// The OpenAPI 3.1 document of the API (openapi.json beside this file),
// embedded in the binary and served at GET /openapi.json without auth.
// Tests keep it true: every response of the API tests is validated
// against it, a route of the table that it lacks (or the reverse) fails,
// and its examples are real answers (openapi_test.go); `make test` also
// lints it with Spectral and runs Portman's contract and fuzz tests
// generated from it against a live server (.ci/api-contract.sh).

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI document (JSON).
func OpenAPI() []byte { return openAPIDoc }

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDoc)))
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(openAPIDoc)
	return err
}
