package bench

// Error is a benchmark that could not be set up: a directory, a file, a
// process or a listener failed, so nothing was measured. `promo bench`
// exits 3 for it (the machine failed, not a workload).
type Error struct {
	Message string
	Err     error // the cause, if any
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// setupError is an *Error with message and cause.
func setupError(message string, cause error) error {
	return &Error{Message: message, Err: cause}
}
