package lookup

import (
	"errors"
	"fmt"
	"testing"
)

func TestNotFound(t *testing.T) {
	noUser := NotFound("no user")
	for _, c := range []struct {
		err error
		msg string
	}{
		{ErrNotFound, "not found"},
		{NotFound("SLO %s does not exist", "checkout"), "SLO checkout does not exist"},
		{fmt.Errorf("%w %q", noUser, "bob"), `no user "bob"`},
		{fmt.Errorf("no such SLO %q: %w", "checkout", ErrNotFound), `no such SLO "checkout": not found`},
	} {
		if !errors.Is(c.err, ErrNotFound) || c.err.Error() != c.msg {
			t.Errorf("%v: errors.Is(err, ErrNotFound) = %v, message %q, want true and %q", c.err, errors.Is(c.err, ErrNotFound), c.err.Error(), c.msg)
		}
	}
	if !errors.Is(fmt.Errorf("%w %q", noUser, "bob"), noUser) {
		t.Error("a NotFound used as a sentinel is not found in its wrappings")
	}
	if errors.Is(NotFound("a"), NotFound("a")) {
		t.Error("two NotFound errors are one")
	}
	if errors.Is(errors.New("not found"), ErrNotFound) {
		t.Error("an error is ErrNotFound by its text")
	}
}
