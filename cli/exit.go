package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"syscall"

	"promo/httpapi"
	"promo/store"
)

// Exit statuses, fixed by the design contract.
const (
	exitOK          = 0 // done; for validate: valid
	exitRefused     = 1 // refused by a rule, the reason on stderr
	exitUsage       = 2 // bad usage or input
	exitUnreachable = 3 // the database or server could not be reached
)

// statusOf is the one table from error codes to exit statuses. It covers
// every code of store.Codes (a test walks them); a code that is not here
// (a newer server's) is a refusal: the server answered.
var statusOf = map[string]int{
	store.ENotFound:            exitRefused,
	store.ETypo:                exitRefused,
	store.ENotStarted:          exitRefused,
	store.EExpired:             exitRefused,
	store.EPaused:              exitRefused,
	store.EAlreadyRedeemed:     exitRefused,
	store.ECustomerLimit:       exitRefused,
	store.EWrongCustomer:       exitRefused,
	store.EMinOrder:            exitRefused,
	store.EVoided:              exitRefused,
	store.EConflict:            exitRefused,
	store.EBudgetExhausted:     exitRefused,
	store.EHeld:                exitRefused,
	store.ECapacity:            exitRefused,
	store.EIdempotencyMismatch: exitRefused,
	store.EForbidden:           exitRefused,
	store.EUnauthorized:        exitRefused,
	store.ERateLimited:         exitRefused,
	// A server that refuses the method of one of the client's own routes
	// (an older or newer promo) has answered, as for an unknown code.
	store.EMethodNotAllowed: exitRefused,
	store.EInvalid:          exitUsage,
	store.ETooLarge:         exitUsage,
	store.EUnavailable:      exitUnreachable,
	store.EInternal:         exitUnreachable,
}

// exitError is an error the command line decides on itself: its exit
// status, the vocabulary code it stands for in --json output, and a
// sentence for a person.
type exitError struct {
	status  int
	code    string
	message string
	err     error // cause, never shown
	// jsonMessage, if set, replaces message in --json output.
	jsonMessage string
	// answered marks an answeredNo.
	answered bool
}

func (e *exitError) Error() string { return e.message }

func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is bad usage or input: exit status 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{status: exitUsage, code: store.EInvalid, message: fmt.Sprintf(format, args...)}
}

// unreachable means the database or server could not be reached: exit
// status 3.
func unreachable(message string, cause error) error {
	return &exitError{status: exitUnreachable, code: store.EUnavailable, message: message, err: cause}
}

// answeredNo is a "no" that is the command's whole answer (check's
// findings): exit status 1. With --json the answer on stdout says it all,
// so nothing goes to stderr.
func answeredNo(code, message string) error {
	return &exitError{status: exitRefused, code: code, message: message, answered: true}
}

// notValid is validate's answer for a code that cannot be used now: exit
// status 1, the reason on stderr (with --json, as the API's error JSON).
func notValid(v store.Validation, flags map[string]string) error {
	return &exitError{status: exitRefused, code: v.Reason, jsonMessage: v.Message,
		message: "not valid: " + renameField(v.Message, flags)}
}

// exitStatus returns the exit status for err.
func exitStatus(err error) int {
	var ee *exitError
	var se *store.Error
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.status
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return exitUnreachable
	case errors.As(err, &se):
		if s, ok := statusOf[se.Code]; ok {
			return s
		}
		return exitRefused
	}
	return exitUnreachable // socket and file errors, anything unexpected
}

// describeError returns the vocabulary code and the one-line message to
// show for err. Internal causes are never shown.
func describeError(err error) (code, message string) {
	var ee *exitError
	var se *store.Error
	switch {
	case errors.As(err, &ee):
		return ee.code, ee.message
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Before *store.Error: the store may wrap ctx's error as internal.
		return store.EUnavailable, "interrupted before the command finished"
	case errors.As(err, &se) && se.Code == store.EInternal:
		msg := "internal error"
		if se.Message != "" && se.Message != msg {
			msg += " (could not " + se.Message + ")"
		}
		return store.EInternal, msg + `: run "promo check" to verify the database, and report this if it happens again`
	case errors.As(err, &se):
		return se.Code, store.ErrorMessage(err) // store.ErrLocked among them: unavailable
	}
	return store.EInternal, "internal error: " + err.Error()
}

// report prints err on stderr and returns its exit status: one line (after
// one line per refused line of an input file), or with --json the API's
// error JSON.
func (e *env) report(err error) int {
	if err == nil {
		return exitOK
	}
	code, msg := describeError(err)
	var ee *exitError
	var se *store.Error
	errors.As(err, &ee)
	errors.As(err, &se)
	switch {
	case e.json && ee != nil && ee.answered:
		// The answer on stdout says it all.
	case e.json:
		if ee != nil && ee.jsonMessage != "" {
			msg = ee.jsonMessage
		}
		body := httpapi.ErrorBody{Error: httpapi.ErrorDetail{Code: code, Message: msg}}
		if se != nil && se.Code == code {
			body.Error.Field, body.Error.Details = se.Field, se.Details
			body.Error.DetailsTotal, _ = store.UploadProblems(err)
		}
		b, _ := json.Marshal(body)
		fmt.Fprintf(e.stderr, "%s\n", b)
	default:
		if se != nil {
			if problems, ok := se.Details.([]store.ImportProblem); ok {
				for _, p := range problems {
					fmt.Fprintf(e.stderr, "promo: %s\n", problemLine(p))
				}
			}
		}
		fmt.Fprintf(e.stderr, "promo: %s\n", msg)
	}
	return exitStatus(err)
}

// problemLine describes one line of an input file that was refused. The
// text quoted comes with its control characters written out (\u001b).
func problemLine(p store.ImportProblem) string {
	if p.Code == "" {
		return fmt.Sprintf("line %d: %s", p.Line, store.Printable(p.Reason))
	}
	return fmt.Sprintf("line %d: \"%s\": %s", p.Line, store.Printable(p.Code), store.Printable(p.Reason))
}

// withFlags rewrites a refusal that names a request field ("order_amount:
// ...") to name the flag the person typed ("--amount: ...") instead. With
// --json the API's message is kept.
func (e *env) withFlags(err error, flags map[string]string) error {
	var se *store.Error
	if e.json || !errors.As(err, &se) || se.Field == "" {
		return err
	}
	flag, ok := flags[se.Field]
	if !ok {
		return err
	}
	rest, ok := strings.CutPrefix(se.Message, se.Field+":")
	if !ok {
		return err
	}
	cp := *se
	cp.Message = flag + ":" + jsonNames.ReplaceAllStringFunc(rest, func(name string) string {
		if f, ok := flags[name]; ok {
			return f // "must be after starts_at" → "must be after --starts"
		}
		return name
	})
	return &cp
}

// jsonNames are the words of a message that look like JSON field names
// (with an underscore or a dot), which withFlags turns into flags too, so
// that a sentence never names a flag and a JSON field at once.
var jsonNames = regexp.MustCompile(`\b[a-z]+(?:[._][a-z]+)+\b`)

// renameField rewrites a message that starts with one of the fields
// ("currency: ...") to start with its flag instead.
func renameField(msg string, flags map[string]string) string {
	field, rest, ok := strings.Cut(msg, ":")
	if flag, known := flags[field]; ok && known {
		return flag + ":" + rest
	}
	return msg
}

// fileError describes a failure to open, read or write a file the person
// named. An input file that cannot be read, or a path that cannot be a
// file, is bad input (2); a permission or disk failure while writing is 3.
func fileError(path string, err error, input bool) error {
	why := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		why = pe.Err.Error()
	}
	msg := fmt.Sprintf("cannot read %s: %s", path, why)
	if !input {
		msg = fmt.Sprintf("cannot write %s: %s", path, why)
	}
	switch {
	case input, errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTDIR):
		return &exitError{status: exitUsage, code: store.EInvalid, message: msg, err: err}
	}
	return unreachable(msg, err)
}
