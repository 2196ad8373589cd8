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
