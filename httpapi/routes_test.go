package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The map of routes without variables answers what gorilla/mux would: for
// each of them mux picks that same route, never an earlier one with
// variables, and every route without variables is in the map.
func TestServer_StaticRoutes(t *testing.T) {
	e := newEnv(t, Options{})
	static := 0
	for _, rt := range e.srv.routes {
		if strings.Contains(rt.path, "{") {
			continue
		}
		static++
		require.Contains(t, e.srv.static, rt.method+" "+rt.path)
		var m mux.RouteMatch
		require.True(t, e.srv.router.Match(httptest.NewRequest(rt.method, rt.path, nil), &m), rt.path)
		tmpl, err := m.Route.GetPathTemplate()
		require.NoError(t, err)
		methods, err := m.Route.GetMethods()
		require.NoError(t, err)
		assert.Equal(t, rt.path, tmpl, "mux picks another route for %s %s", rt.method, rt.path)
		assert.Equal(t, []string{rt.method}, methods, rt.path)
	}
	assert.Len(t, e.srv.static, static)
	assert.Contains(t, e.srv.static, "POST /v1/validate")

	// Through the handler: a method a static path lacks is mux's 405, a
	// path that is not clean is mux's redirect.
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/v1/validate", nil))
	assert.Equal(t, 405, w.Code)
	assert.Equal(t, "POST", w.Header().Get("Allow"))
	w = httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/v1//validate", nil))
	assert.Equal(t, 301, w.Code)
}
