package rules

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/slo"
	"github.com/prodex/prodex/internal/store"
)

// failingCounts is an embedded store whose counting fails as a database
// does, with the statement in its message.
type failingCounts struct{ *embedded }

func (failingCounts) SetCounter(context.Context, store.Counter, bool, func([]store.MinuteCount)) error {
	return errors.New(`backfill x: Conversion Error: INT128 out of range for INT64 LINE 1: SELECT ts // 60000000 AS m, sum(sr)::BIGINT`)
}

// A definition at fault is a problem.Invalid refusal, answered 400 with
// its message; a store that fails is not, so the API answers a 500 with a
// request id and no SQL. Once every failure of Apply was a 400 carrying
// the store's message, SQL included.
func TestApplyTellsTheDefinitionsFaultsFromTheStores(t *testing.T) {
	st, err := openEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	good := slo.SLO{Name: "api", Dataset: "shop", Target: 99, Window: slo.Window{Days: 7}, SLI: slo.SLI{Good: "status_code < 500"}}
	m := newOutboxManager(t, st, nil)
	for _, c := range []struct {
		name string
		def  func(*slo.SLO)
	}{
		{"target", func(d *slo.SLO) { d.Target = 250 }},
		{"dataset", func(d *slo.SLO) { d.Dataset = "..bad" }},
		{"sli", func(d *slo.SLO) { d.SLI.Good = "status_code <" }},
	} {
		d := good
		c.def(&d)
		if _, err := m.Apply(ctx, d, false); !problem.Is(err, problem.Invalid) {
			t.Errorf("%s: %v, want a problem.Invalid refusal", c.name, err)
		}
	}
	if _, err := m.Apply(ctx, good, false); err != nil {
		t.Fatalf("a good SLO: %v", err)
	}

	st2, err := openEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	m, err = New(ctx, failingCounts{st2}, nil, Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Apply(ctx, good, false)
	if err == nil || problem.KindOf(err) != problem.Internal || !strings.Contains(err.Error(), "Conversion Error") {
		t.Errorf("a failing store: %v (kind %v), want the server's own failure", err, problem.KindOf(err))
	}
}
