package problem

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOf(t *testing.T) {
	cause := errors.New("title: required")
	for _, c := range []struct {
		err  error
		kind Kind
		msg  string
	}{
		{New(NotFound, "incident x does not exist"), NotFound, "incident x does not exist"},
		{Errorf(Invalid, "slo: %q does not exist", "a"), Invalid, `slo: "a" does not exist`},
		{Wrap(Invalid, cause), Invalid, "title: required"},
		{fmt.Errorf("saving: %w", New(Conflict, "c")), Conflict, "saving: c"},
		{errors.New("disk full"), Internal, "disk full"},
	} {
		if got := KindOf(c.err); got != c.kind || c.err.Error() != c.msg {
			t.Errorf("%v: kind %d, want %d; message %q, want %q", c.err, got, c.kind, c.err.Error(), c.msg)
		}
	}
	if !errors.Is(Wrap(Invalid, cause), cause) {
		t.Error("Wrap loses its cause")
	}
	if Wrap(Invalid, nil) != nil || Is(nil, Internal) {
		t.Error("nil is no problem")
	}
}

func TestNotFoundIsOneError(t *testing.T) {
	noUser := New(NotFound, "no user")
	for _, c := range []struct {
		err error
		msg string
	}{
		{ErrNotFound, "not found"},
		{Errorf(NotFound, "SLO %s does not exist", "checkout"), "SLO checkout does not exist"},
		{fmt.Errorf("%w %q", noUser, "bob"), `no user "bob"`},
		{fmt.Errorf("no such SLO %q: %w", "checkout", ErrNotFound), `no such SLO "checkout": not found`},
	} {
		if !errors.Is(c.err, ErrNotFound) || KindOf(c.err) != NotFound || c.err.Error() != c.msg {
			t.Errorf("%v: errors.Is(err, ErrNotFound) = %v, kind %d, message %q; want true, NotFound, %q",
				c.err, errors.Is(c.err, ErrNotFound), KindOf(c.err), c.err.Error(), c.msg)
		}
	}
	if !errors.Is(fmt.Errorf("%w %q", noUser, "bob"), noUser) {
		t.Error("a NotFound used as a sentinel is not found in its wrappings")
	}
	if errors.Is(New(Invalid, "a"), ErrNotFound) || errors.Is(errors.New("not found"), ErrNotFound) {
		t.Error("an error is ErrNotFound by another kind or by its text")
	}
}
