package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/explain"
)

// TestWideEventsStayWithinTheColumnLimit: the reproduction at the
// default limits. Wide events of 1,500 new fields each fill a dataset to
// --max-columns (2,000): the event past it is stored with its known field
// and the new ones that fit, and its status warns naming the limit;
// explain on the full dataset compares 100 columns and answers. Before,
// the limit was 10,000, an event past it was refused whole, and explain
// compared every column (500 "Out of Memory Error" at 10,000).
func TestWideEventsStayWithinTheColumnLimit(t *testing.T) {
	data := t.TempDir()
	ik, qk := newKey(t, data, "ingest"), newKey(t, data, "query")
	s := startServer(t, data)
	defer s.stop()
	now := time.Now().Unix()
	wide := func(from int) []map[string]any {
		f := map[string]any{"code": 200 + 300*(from/1500%2)}
		for i := from; i < from+1500; i++ {
			f[fmt.Sprintf("f%05d", i)] = i
		}
		return []map[string]any{{"time": now, "data": f}}
	}
	for k, from := range []int{0, 1500} {
		var st []api.BatchStatus
		if code := call(t, "POST", s.url+"/1/batch/widecols", ik, wide(from), &st); code != http.StatusOK || len(st) != 1 || st[0].Status != http.StatusAccepted {
			t.Fatalf("wide event %d: %d %+v", k, code, st)
		}
		switch w := st[0].Warning; {
		case k == 0 && w != "":
			t.Errorf("first wide event: warning %q, want none", w)
		case k == 1 && !strings.Contains(w, "limit of 2,000 columns (--max-columns)") || k == 1 && !strings.Contains(w, "1,001 new fields"):
			t.Errorf("second wide event: warning %q, want one naming the limit of 2,000 columns and the 1,001 fields left out", w)
		}
	}
	var st []api.BatchStatus
	if code := call(t, "POST", s.url+"/1/batch/other", ik, []map[string]any{{"data": map[string]any{"service": "api"}}}, &st); code != http.StatusOK || st[0].Status != http.StatusAccepted {
		t.Fatalf("other dataset: %d %+v", code, st)
	}
	var cols []map[string]any
	if code := call(t, "GET", s.url+"/1/columns/widecols", qk, nil, &cols); code != http.StatusOK || len(cols) != 2000 {
		t.Fatalf("columns: %d, %d columns; want 2,000", code, len(cols))
	}
	var ans explain.Answer
	req := map[string]any{"start_time": now - 3600, "end_time": now + 60,
		"selection": map[string]any{"filters": []map[string]any{{"column": "code", "op": "=", "value": 500}}}}
	if code := call(t, "POST", s.url+"/api/v1/explain/widecols", qk, req, &ans); code != http.StatusOK {
		t.Fatalf("explain: %d", code)
	}
	if ans.ColumnsCompared != explain.DefaultMaxColumns || ans.ColumnsLeftOut != 2000-explain.DefaultMaxColumns || ans.SelectionCount != 1 {
		t.Errorf("explain: %d compared, %d left out, %d selected; want %d, %d, 1", ans.ColumnsCompared, ans.ColumnsLeftOut, ans.SelectionCount,
			explain.DefaultMaxColumns, 2000-explain.DefaultMaxColumns)
	}
}
