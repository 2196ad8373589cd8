package incident

import (
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/duration"
)

func TestWriteTable(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ttr := duration.Coarse(25 * time.Minute)
	incs := []Incident{
		{ID: "inc-1", Severity: "sev1", Status: "resolved", DetectedAt: at, TTD: duration.Coarse(3 * time.Minute), TTR: &ttr, Commander: "alice", Title: "Checkout slow"},
		{ID: "inc-2", Severity: "sev2", Status: "investigating", DetectedAt: at, Title: "Search errors"},
	}
	var b strings.Builder
	if err := WriteTable(&b, incs); err != nil {
		t.Fatal(err)
	}
	local := at.Local().Format(time.DateTime)
	want := "" +
		"ID     SEVERITY  STATUS         DETECTED             TTD  TTR  COMMANDER  TITLE\n" +
		"inc-1  sev1      resolved       " + local + "  3m   25m  alice      Checkout slow\n" +
		"inc-2  sev2      investigating  " + local + "  0m   -               Search errors\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
