// Package lookup holds the one error for a lookup that found nothing (a
// dataset, a stored or saved query, an SLO, a user, a key), so that every
// package returns or wraps the same sentinel and the HTTP layer can answer
// 404 for all of them with one errors.Is(err, lookup.ErrNotFound). It
// imports nothing of Prodex, so that any package can use it.
package lookup

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned, or wrapped, when what was asked for does not
// exist.
var ErrNotFound = errors.New("not found")

// NotFound is an error that is ErrNotFound (errors.Is) with a message of
// its own, for errors whose text callers show as it is ("SLO checkout does
// not exist"), which wrapping with %w would lengthen.
func NotFound(format string, args ...any) error {
	return &notFound{msg: fmt.Sprintf(format, args...)}
}

type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }
func (e *notFound) Unwrap() error { return ErrNotFound }
