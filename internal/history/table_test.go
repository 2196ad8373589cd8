package history

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/query"
)

func TestWriteRuns(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	runs := []Run{
		{QueryID: "q1", Dataset: "checkout", Author: "alice", Spec: json.RawMessage(`{"calculations":[{"op":"COUNT"}],"time_range":3600}`), RanAt: at, DurationMS: 12, Rows: 3},
		{QueryID: "q2", Dataset: "checkout", Author: "a\nvery long   name that goes on and on", Spec: json.RawMessage(`not a spec`), RanAt: at, DurationMS: 1530,
			Error: "query exceeded its time limit"},
	}
	var b strings.Builder
	if err := WriteRuns(&b, runs, query.SpecLine); err != nil {
		t.Fatal(err)
	}
	local := at.Local().Format(time.DateTime)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME                 AUTHOR                          DATASET   QUERY  DURATION  ROWS    QUESTION") {
		t.Fatalf("table:\n%s", b.String())
	}
	if want := local + "  alice                           checkout  q1     12.0ms    3       COUNT"; !strings.HasPrefix(lines[1], want) {
		t.Errorf("run:\n%s\nwant it to begin:\n%s", lines[1], want)
	}
	if want := local + "  a very long name that goes on…  checkout  q2     1.53s     failed  not a spec — query exceeded its time limit"; lines[2] != want {
		t.Errorf("failed run:\n%s\nwant:\n%s", lines[2], want)
	}
}

func TestWriteSaved(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	list := []Saved{{ID: "s1", Name: "Slow\tcheckouts", Dataset: "checkout", QueryID: "q1", Author: "bob", UpdatedAt: at, Spec: json.RawMessage(`"x"`),
		Description: strings.Repeat("d", 70)}}
	var b strings.Builder
	if err := WriteSaved(&b, list, query.SpecLine); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID  NAME            DATASET   QUERY  AUTHOR  UPDATED              QUESTION  DESCRIPTION\n" +
		"s1  Slow checkouts  checkout  q1     bob     " + at.Local().Format(time.DateTime) + "  \"x\"       " + strings.Repeat("d", 59) + "…\n"
	if b.String() != want {
		t.Errorf("saved:\n%s\nwant:\n%s", b.String(), want)
	}
}
