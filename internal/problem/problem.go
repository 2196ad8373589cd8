// Package problem names what is wrong with a request in the domain's own
// terms — bad input, something that does not exist, a conflict with what
// is stored, a change the asker may not make — so that domain packages can
// refuse without knowing HTTP, and the API alone maps each kind to a
// status. An error that is not a *Error is the server's own failure: the
// API answers it with a generic message and logs the detail.
package problem

import (
	"errors"
	"fmt"
)

// Kind is what is wrong.
type Kind int

// The kinds of problem. Internal is the zero Kind: an error nobody
// classified is the server's.
const (
	Internal  Kind = iota
	Invalid        // the input is wrong: the message says which field and why
	NotFound       // what the request names does not exist
	Conflict       // the request contradicts what is stored
	Forbidden      // the asker may not do this
)

// ErrNotFound is the one error for a lookup that found nothing (a dataset,
// a stored or saved query, an SLO, a user, a key): stores return it or wrap
// it, and a NotFound refusal is it too (errors.Is), so that one check
// serves every package.
var ErrNotFound = errors.New("not found")

// Error is a refusal of one kind; its message is for the person asking.
type Error struct {
	Kind Kind
	Msg  string
	Err  error // the cause, if any
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Is makes every NotFound refusal ErrNotFound, whatever its message.
func (e *Error) Is(target error) bool { return target == ErrNotFound && e.Kind == NotFound }

// New is a refusal of kind k saying msg.
func New(k Kind, msg string) error { return &Error{Kind: k, Msg: msg} }

// Errorf is a refusal of kind k with a formatted message.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap makes err, whose message is already for the asker (a validation
// error), a refusal of kind k; nil stays nil.
func Wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Msg: err.Error(), Err: err}
}

// KindOf is the kind of the first *Error in err's chain; NotFound for an
// error that wraps ErrNotFound; Internal otherwise.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, ErrNotFound) {
		return NotFound
	}
	return Internal
}

// Is reports whether err is a refusal of kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
