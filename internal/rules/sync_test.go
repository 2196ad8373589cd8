package rules

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/slo"
)

func countsOf(m *Manager, name string) *series {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if e := m.slos[name]; e != nil {
		return e.counts
	}
	return nil
}

// TestSync: an SLO applied on node a appears in b after b syncs; a new
// target replaces b's definition but keeps its counts and open episodes; a
// new SLI reads the counts anew; a deleted SLO disappears, and removing its
// counter again is no error.
func TestSync(t *testing.T) {
	ctx := context.Background()
	st := openShared(t)
	a := newNode(t, st, nil, Options{})
	b := newNode(t, st, nil, Options{})
	d := outboxSLO("http://pager.invalid")
	d.Notify = nil
	mustApply := func(d slo.SLO) {
		t.Helper()
		if _, err := a.Apply(ctx, d, false); err != nil {
			t.Fatal(err)
		}
	}
	resync := func() {
		t.Helper()
		if err := b.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}

	mustApply(d)
	if _, ok := b.Get("checkout"); ok {
		t.Fatal("b knows the SLO before syncing")
	}
	resync()
	got, ok := b.Get("checkout")
	if want, _ := a.Get("checkout"); !ok || len(diff(got, want)) != 0 {
		t.Fatalf("b has %+v, want a's %+v", got, want)
	}
	if _, err := b.Status("checkout"); err != nil {
		t.Fatal(err)
	}

	burn(b, "checkout", 100)
	b.EvaluateAll(ctx)
	counts := countsOf(b, "checkout")
	resync() // nothing changed
	if countsOf(b, "checkout") != counts {
		t.Error("an unchanged SLO was replaced")
	}

	d.Target = 99
	mustApply(d)
	resync()
	if got, _ := b.Get("checkout"); got.Target != 99 {
		t.Errorf("b's target %v after the sync, want 99", got.Target)
	}
	if countsOf(b, "checkout") != counts {
		t.Error("a new target dropped the counts")
	}
	if s, err := b.Status("checkout"); err != nil || len(s.Alerts) != 1 {
		t.Errorf("open alerts after a new target: %+v %v", s.Alerts, err)
	}

	d.SLI.Good = "status_code < 400"
	mustApply(d)
	resync()
	if got, _ := b.Get("checkout"); got.SLI != d.SLI {
		t.Errorf("b's SLI %+v, want %+v", got.SLI, d.SLI)
	}
	if countsOf(b, "checkout") == counts {
		t.Error("a new SLI kept the counts of the old one")
	}
	if s, err := b.Status("checkout"); err != nil || len(s.Alerts) != 1 {
		t.Errorf("open alerts after a new SLI: %+v %v", s.Alerts, err)
	}

	if err := a.Delete(ctx, "checkout"); err != nil {
		t.Fatal(err)
	}
	resync() // removes the counter a removed
	if _, ok := b.Get("checkout"); ok {
		t.Error("b still has the deleted SLO")
	}
	if len(b.List()) != 0 {
		t.Errorf("b has %+v", b.List())
	}
	resync()
}

// TestSyncDuringApply: Apply and Delete on a node, with Sync running
// alongside, end with the SLOs applied and stored, none dropped by a sync
// that read the store before they were saved.
func TestSyncDuringApply(t *testing.T) {
	ctx := context.Background()
	st := openShared(t)
	m := newNode(t, st, nil, Options{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := m.Sync(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	d := outboxSLO("")
	d.Notify = nil
	for i := 0; i < 20; i++ {
		d.Name = fmt.Sprintf("slo-%d", i)
		d.Target = 99 + float64(i%2)/2
		if _, err := m.Apply(ctx, d, false); err != nil {
			t.Fatal(err)
		}
		if _, ok := m.Get(d.Name); !ok {
			t.Fatalf("%s was dropped just after being applied", d.Name)
		}
		if i%4 == 3 {
			if err := m.Delete(ctx, d.Name); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(m.List()); n != 15 {
		t.Errorf("%d SLOs after the applies and deletes, want 15", n)
	}
}

// TestRunSyncs: with SyncEvery, Run picks up what another node applies
// and deletes.
func TestRunSyncs(t *testing.T) {
	ctx := context.Background()
	st := openShared(t)
	a := newNode(t, st, nil, Options{})
	b := newNode(t, st, nil, Options{SyncEvery: time.Millisecond})
	stop := run(b, 5*time.Millisecond)
	defer stop()
	d := outboxSLO("")
	d.Notify = nil
	if _, err := a.Apply(ctx, d, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b to have the SLO", func() bool { _, ok := b.Get("checkout"); return ok })
	if err := a.Delete(ctx, "checkout"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b to drop the SLO", func() bool { _, ok := b.Get("checkout"); return !ok })
}
