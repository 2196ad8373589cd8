package main

import (
	"strings"
	"testing"
)

// TestDemo runs prodex demo briefly: its bad deploy must burn the latency
// SLO, page the local receiver, open an incident, and explain must point at
// build 4512.
func TestDemo(t *testing.T) {
	t.Parallel()
	out, err := prodexCLI(t, nil, "demo", "--data", t.TempDir(), "--listen", freeAddr(t), "--bad-deploy-after", "3s", "--for", "40s", "--rate", "200")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"RECEIVER got a page firing for SLO checkout-latency", "EXPLAIN #1 build_id = 4512", "INCIDENT inc-"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
