package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestSoakSmoke runs `prodex bench soak` briefly against a real server, so
// that the soak (scripts/soak.sh runs it for minutes) keeps working: what
// ingest acknowledges at twice its measured capacity is stored, queries
// answer meanwhile and the SLO that starts burning pages. (Whether anything
// is refused in eight seconds depends on how the capacity measured.)
func TestSoakSmoke(t *testing.T) {
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data, "--memory-ceiling", "4GB")
	defer s.stop()
	out, err := prodexCLI(t, nil, "bench", "soak", "--server", s.url, "--key", key, "--pid", fmt.Sprint(s.cmd.Process.Pid),
		"--ceiling", "4GB", "--measure", "3s", "--duration", "8s", "--burn-after", "3s", "--workers", "4")
	t.Logf("soak:\n%s", out)
	if err != nil {
		t.Fatalf("soak failed: %v\n%s", err, s.log.String())
	}
	for _, want := range []string{"stored", ": EQUAL", "server peak RSS", "queries during overload", "alert: paged"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
