package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

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

// decodeError reads an error body, as errorBody wrote it, back into the
// error it stands for: a *store.Error with its code, message and field,
// the bad lines of an upload in Details (other details are dropped), and
// inside a *store.UploadError when the body counts them. It is the
// Client's side of errorBody.
func decodeError(r io.Reader, status int) error {
	b, _ := io.ReadAll(io.LimitReader(r, 16<<20))
	body, err := readErrorBody(b)
	if err != nil || body.Error.Code == "" {
		return &store.Error{Code: store.EInternal, Message: fmt.Sprintf("the server answered %d without an error body", status)}
	}
	d := body.Error
	e := &store.Error{Code: d.Code, Message: d.Message, Field: d.Field}
	if problems, ok := d.problems(); ok {
		e.Details = problems
	}
	if d.DetailsTotal > 0 {
		return &store.UploadError{Refusal: e, Total: d.DetailsTotal}
	}
	return e
}

// readErrorBody decodes an error body into the one ErrorBody type,
// keeping its details as raw JSON (Details is then a *json.RawMessage)
// for the reader to decode as what it expects.
func readErrorBody(b []byte) (ErrorBody, error) {
	body := ErrorBody{Error: ErrorDetail{Details: new(json.RawMessage)}}
	err := json.Unmarshal(b, &body)
	return body, err
}

// problems returns the bad lines of an upload from details read by
// readErrorBody, and whether the details were such a list.
func (d ErrorDetail) problems() ([]store.ImportProblem, bool) {
	raw, ok := d.Details.(*json.RawMessage)
	if !ok || len(*raw) == 0 {
		return nil, false
	}
	var problems []store.ImportProblem
	if json.Unmarshal(*raw, &problems) != nil {
		return nil, false
	}
	return problems, true
}
