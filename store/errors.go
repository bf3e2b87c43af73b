package store

import (
	"errors"
	"fmt"
)

// Error codes: the contract's shared vocabulary. HTTP statuses and CLI exit
// codes are mapped from these in one table each (httpapi, cli).
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
)

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
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the sentence to show a person for err: the message of
// an *Error, or "internal error" for anything unexpected.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		return e.Message
	}
	return "internal error"
}

// isRuleError reports whether err is an expected refusal (not internal):
// such errors are answers, and never abort a shared transaction.
func isRuleError(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code != EInternal
}
