package store

import (
	"errors"
	"fmt"

	"promo/store/kv"
)

// Error codes: promo's one vocabulary, the contract's and the few promo
// adds (README: "Where promo differs"). Every refusal, in the store, the
// HTTP layer and the CLI, carries one of these; HTTP statuses and CLI exit
// statuses are mapped from them in one table each (httpapi, cli), and a
// test in each package walks Codes through its table. A new code goes
// here and into Codes.
const (
	ENotFound            = "not_found"
	ETypo                = "typo"
	EInvalid             = "invalid_request"
	ENotStarted          = "not_started"
	EExpired             = "expired"
	EPaused              = "paused"
	EAlreadyRedeemed     = "already_redeemed"
	ECustomerLimit       = "customer_limit"
	EWrongCustomer       = "wrong_customer"
	EMinOrder            = "min_order"
	EVoided              = "voided"
	EUnauthorized        = "unauthorized"
	EForbidden           = "forbidden"
	ERateLimited         = "rate_limited"
	EIdempotencyMismatch = "idempotency_mismatch"
	ECapacity            = "capacity"
	EConflict            = "conflict"
	// EBudgetExhausted: a redemption (or hold) would take the campaign
	// past its budget of redemptions or discount.
	EBudgetExhausted = "budget_exhausted"
	// EHeld: the code's next use is held for another customer's cart.
	EHeld = "held"
	// EUnavailable means the database cannot take writes now (disk full,
	// read-only file, shutting down); the caller may retry later.
	EUnavailable = "unavailable"
	// EInternal is anything unexpected; its cause is logged, never shown.
	EInternal = "internal"
	// ETooLarge: a request body or an upload is larger than its limit
	// (HTTP 413), so that it is not mistaken for invalid_request.
	ETooLarge = "too_large"
	// EMethodNotAllowed: a known path asked with a method it does not
	// take (HTTP 405 with Allow), so that it is not mistaken for not_found.
	EMethodNotAllowed = "method_not_allowed"
)

// Codes is every code of the vocabulary, in the order above. The tables
// of httpapi and cli are tested against it; a test of this package checks
// that it lists every E constant.
var Codes = []string{
	ENotFound, ETypo, EInvalid, ENotStarted, EExpired, EPaused, EAlreadyRedeemed, ECustomerLimit,
	EWrongCustomer, EMinOrder, EVoided, EUnauthorized, EForbidden, ERateLimited, EIdempotencyMismatch,
	ECapacity, EConflict, EBudgetExhausted, EHeld, EUnavailable, EInternal, ETooLarge, EMethodNotAllowed,
}

// Error is promo's one error type: a code from the vocabulary above and a
// sentence for a person. Field names the request field at fault, if any.
type Error struct {
	Code    string
	Message string
	Field   string
	Details any   // optional structured detail, e.g. the bad lines of an import
	Err     error // cause, for logs; never shown to callers
}

func (e *Error) Error() string {
	if e.Err != nil && e.Code == EInternal {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// ErrLocked is the refusal of Open when another process holds the
// database file: unavailable (the caller may retry once that process is
// done, or talk to it through its socket). Test for it with
// errors.Is(err, ErrLocked); the error Open returns also wraps
// kv.ErrLocked and says which file and how long it waited.
var ErrLocked = &Error{Code: EUnavailable, Message: kv.ErrLocked.Error(), Err: kv.ErrLocked}

// Is makes every unavailable *Error caused by kv.ErrLocked match
// ErrLocked, so that the errors Open returns (which name the file) are
// ErrLocked to errors.Is.
func (e *Error) Is(target error) bool {
	return target == ErrLocked && e.Code == EUnavailable && errors.Is(e.Err, kv.ErrLocked)
}

// lockedError is Open's refusal of a file another process holds: err is
// the engine's error, which wraps kv.ErrLocked.
func lockedError(err error) *Error {
	return &Error{Code: EUnavailable, Message: err.Error() + "; stop it or talk to it through its socket", Err: err}
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// fieldErr returns an invalid_request error naming field.
func fieldErr(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// internal wraps an unexpected cause.
func internal(err error, what string) *Error {
	return &Error{Code: EInternal, Message: what, Err: err}
}

// ErrorCode returns the code of err: the Code of an *Error in its chain,
// "" for nil, and EInternal for anything else.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := asError(err); ok {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the sentence to show a person for err: the message of
// an *Error, or "internal error" for anything unexpected.
func ErrorMessage(err error) string {
	if e, ok := asError(err); ok && e.Code != EInternal {
		return e.Message
	}
	return "internal error"
}

// isRuleError reports whether err is an expected refusal (not internal):
// such errors are answers, and never abort a shared transaction.
func isRuleError(err error) bool {
	e, ok := asError(err)
	return ok && e.Code != EInternal
}

// asError is errors.As(err, **Error), without its reflection when err is
// an *Error itself, as the rules' refusals are: it runs on every answer.
func asError(err error) (*Error, bool) {
	if e, ok := err.(*Error); ok {
		return e, e != nil
	}
	var e *Error
	return e, errors.As(err, &e)
}
