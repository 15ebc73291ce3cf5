package stage

import (
	"errors"
	"fmt"
)

// ErrPermanent marks a failure that no retry will fix: the message goes to
// the quarantine. Wrap it (fmt.Errorf("…: %w", stage.ErrPermanent)) or use
// Permanent to give the quarantine a code.
var ErrPermanent = errors.New("permanent failure")

type permanentError struct {
	code string
	err  error
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
func (e *permanentError) Is(t error) bool {
	return t == ErrPermanent
}

// Permanent marks err as a failure no retry will fix, with the code the
// quarantine entry and its metric carry (for example "bad_event").
func Permanent(code string, err error) error {
	if err == nil {
		err = errors.New(code)
	}
	return &permanentError{code: code, err: err}
}

type transientError struct {
	cause string
	err   error
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// Transient marks err as a failure that a later attempt may not meet, and
// names its cause (the dependency away: "clickhouse", "smtp", "nats") for
// the retry metric and the readiness message. Any error that is not
// permanent is retried; Transient only names it.
func Transient(cause string, err error) error {
	if err == nil {
		return nil
	}
	return &transientError{cause: cause, err: err}
}

// codeOf returns the quarantine code of a permanent error.
func codeOf(err error) string {
	var p *permanentError
	if errors.As(err, &p) {
		return p.code
	}
	return "permanent"
}

// causeOf returns the cause of a transient error, or def.
func causeOf(err error, def string) string {
	var t *transientError
	if errors.As(err, &t) {
		return t.cause
	}
	return def
}

// panicError is what a handler's panic becomes: permanent, since the same
// message would panic again.
func panicError(v any) error {
	return Permanent("panic", fmt.Errorf("handler panicked: %v", v))
}
