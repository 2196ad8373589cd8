package metatest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// testLease: a lease is taken when free, refused while another holder's
// runs, renewed by its holder, taken by another once expired, and free
// again once released by its holder (only).
func testLease(t *testing.T, s Store) {
	ctx := context.Background()
	const long, short = time.Minute, 300 * time.Millisecond
	const (
		take       = iota // Lease, which must grant it
		refused           // Lease, which must refuse it
		eventually        // Lease, retried until it grants it
		release
	)
	var untilA time.Time // the end of A's lease, as last granted
	for i, st := range []struct {
		what          string
		op            int
		lease, holder string
		ttl           time.Duration
	}{
		{"A takes the free lease", take, "alerts", "A", long},
		{"B is refused while A holds it", refused, "alerts", "B", long},
		{"A renews, for a short while", take, "alerts", "A", short},
		{"B is refused again", refused, "alerts", "B", long},
		{"B takes A's lease once it expires", eventually, "alerts", "B", long},
		{"A is refused", refused, "alerts", "A", long},
		{"A releases B's lease", release, "alerts", "A", 0},
		{"which changed nothing", refused, "alerts", "A", long},
		{"B releases its lease", release, "alerts", "B", 0},
		{"A takes the released lease", take, "alerts", "A", long},
		{"a lease of another name is another lease", take, "other", "B", long},
		{"which does not give B the first", refused, "alerts", "B", long},
		{"releasing a lease never taken", release, "never-taken", "A", 0},
	} {
		if st.op == release {
			if err := s.Release(ctx, st.lease, st.holder); err != nil {
				t.Fatalf("%d. %s: %v", i+1, st.what, err)
			}
			continue
		}
		held, until, err := s.Lease(ctx, st.lease, st.holder, st.ttl)
		// Expiry goes by the store's clock, which need not be this
		// one: wait for it rather than for a fixed time.
		for deadline := time.Now().Add(10 * time.Second); st.op == eventually && err == nil && !held && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			held, until, err = s.Lease(ctx, st.lease, st.holder, st.ttl)
		}
		if err != nil {
			t.Fatalf("%d. %s: %v", i+1, st.what, err)
		}
		if want := st.op != refused; held != want {
			t.Fatalf("%d. %s: held = %v, want %v", i+1, st.what, held, want)
		}
		switch {
		case held && until.IsZero():
			t.Errorf("%d. %s: held until the zero time", i+1, st.what)
		case held && st.holder == "A" && st.lease == "alerts":
			untilA = until
		case !held && st.holder == "B" && !until.Equal(untilA):
			// Refused, a holder learns when the lease may be free.
			t.Errorf("%d. %s: refused until %v, want the end of A's lease, %v", i+1, st.what, until, untilA)
		}
	}
	if _, _, err := s.Lease(ctx, "zero", "A", 0); err == nil {
		t.Error("a lease for no time was granted")
	}
}

// testLeaseRace: of holders asking for a free lease at once, exactly one
// gets it.
func testLeaseRace(t *testing.T, s Store) {
	for round := range 5 {
		name := fmt.Sprintf("race-%d", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				holder := fmt.Sprintf("node-%d", i)
				held, _, err := s.Lease(context.Background(), name, holder, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if held {
					mu.Lock()
					winners = append(winners, holder)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Errorf("round %d: %d holders got the lease: %v", round, len(winners), winners)
		}
	}
}
