package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"promo/store"
)

// statusOf is the one table from error codes to HTTP statuses. It covers
// every code of store.Codes (a test walks them).
var statusOf = map[string]int{
	store.ENotFound:            http.StatusNotFound,
	store.ETypo:                http.StatusUnprocessableEntity,
	store.EInvalid:             http.StatusBadRequest,
	store.ENotStarted:          http.StatusUnprocessableEntity,
	store.EExpired:             http.StatusGone,
	store.EPaused:              http.StatusUnprocessableEntity,
	store.EAlreadyRedeemed:     http.StatusConflict,
	store.ECustomerLimit:       http.StatusConflict,
	store.EWrongCustomer:       http.StatusForbidden,
	store.EMinOrder:            http.StatusUnprocessableEntity,
	store.EVoided:              http.StatusGone,
	store.EUnauthorized:        http.StatusUnauthorized,
	store.EForbidden:           http.StatusForbidden,
	store.ERateLimited:         http.StatusTooManyRequests,
	store.EIdempotencyMismatch: http.StatusUnprocessableEntity,
	store.ECapacity:            http.StatusUnprocessableEntity,
	store.EConflict:            http.StatusConflict,
	store.EBudgetExhausted:     http.StatusConflict,
	store.EHeld:                http.StatusConflict,
	store.EUnavailable:         http.StatusServiceUnavailable,
	store.EInternal:            http.StatusInternalServerError,
	store.ETooLarge:            http.StatusRequestEntityTooLarge,
	store.EMethodNotAllowed:    http.StatusMethodNotAllowed,
}

// StatusOf returns the HTTP status for an error code (500 when unknown).
func StatusOf(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is every error response: {"error": {"code", "message"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names the error; Field and Details appear when known. For
// an upload refused for its bad lines, Details lists the first 100 and
// DetailsTotal counts them all.
type ErrorDetail struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	Field        string `json:"field,omitempty"`
	Details      any    `json:"details,omitempty"`
	DetailsTotal int    `json:"details_total,omitempty"`
}

// errorBody turns any error into the body to send; unexpected errors say
// only "internal error".
func errorBody(err error) ErrorBody {
	var e *store.Error
	if errors.As(err, &e) && e.Code != store.EInternal {
		total, _ := store.UploadProblems(err)
		return ErrorBody{ErrorDetail{Code: e.Code, Message: e.Message, Field: e.Field, Details: e.Details, DetailsTotal: total}}
	}
	return ErrorBody{ErrorDetail{Code: store.EInternal, Message: "internal error"}}
}

// writeError sends err with its status, logging unexpected ones with
// their cause and the route's pattern (never the path, which may hold a
// code).
func writeError(w http.ResponseWriter, log *slog.Logger, route string, err error) {
	body := errorBody(err)
	if body.Error.Code == store.EInternal {
		log.Error("internal error", "route", route, "request_id", w.Header().Get("X-Request-Id"), "err", err)
	}
	retryAfter(w, body)
	writeJSON(w, StatusOf(body.Error.Code), body)
}

var contentTypeJSON = []string{"application/json"}

// jsonAppender is implemented by the answers encoded by hand on hot paths
// (validations, redemptions); their output is byte for byte encoding/json's
// (the store's FuzzJSONEncoding holds them to it).
type jsonAppender interface{ AppendJSON([]byte) []byte }

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	if a, ok := v.(jsonAppender); ok {
		b := append(a.AppendJSON(make([]byte, 0, 256)), '\n')
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
		w.WriteHeader(status)
		w.Write(b)
		return
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}
