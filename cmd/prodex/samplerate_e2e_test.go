package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The hostile values of a sample rate, a time and a retention are refused
// with a 400 naming the field and its limit, and the dataset stays
// queryable, its SLO counting, its server stopping cleanly: a rate of
// 2^63-1 once made every weighted query over its range answer a 500 with
// the generated SQL, until and after a restart.
func TestHostileValuesAreRefused(t *testing.T) {
	data := t.TempDir()
	admin := newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()

	raw := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("X-Honeycomb-Team", admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(bytes.TrimSpace(b))
	}

	now := time.Now().UTC()
	code, body := raw("POST", "/1/batch/srslo", fmt.Sprintf(`[{"data":{"status_code":200},"samplerate":9223372036854775807},{"data":{"status_code":500},"samplerate":9223372036854775807},{"data":{"status_code":200},"samplerate":1000000000,"time":%q}]`, now.Format(time.RFC3339)))
	var statuses []struct {
		Status int    `json:"status"`
		Error  string `json:"error"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &statuses) != nil || len(statuses) != 3 {
		t.Fatalf("batch: %d %s", code, body)
	}
	for i, want := range []int{400, 400, 202} {
		if statuses[i].Status != want || want == 400 && !strings.Contains(statuses[i].Error, "from 0 to 1000000000") {
			t.Errorf("event %d: %+v, want %d", i, statuses[i], want)
		}
	}
	if code, body := raw("POST", "/api/v1/slos", `{"name":"srslo-api","dataset":"srslo","target":99,"window":"7d","sli":{"good":"status_code < 500"}}`); code != 201 {
		t.Fatalf("SLO: %d %s", code, body)
	}
	res := runQuery(t, s, admin, "srslo", map[string]any{"time_range": 3600, "calculations": []map[string]any{{"op": "COUNT"}, {"op": "SUM", "column": "status_code"}}})
	if got := fmt.Sprint(res.Results[0].Data["COUNT"], " ", res.Results[0].Data["SUM(status_code)"]); got != "1e+09 2e+11" {
		t.Errorf("COUNT and SUM at the maximum rate: %s", got)
	}

	for _, c := range []struct{ method, path, body, want string }{
		{"GET", "/api/v1/slos/srslo-api/gate?min_remaining=NaN", "", "min_remaining"},
		{"GET", "/api/v1/slos/srslo-api/gate?min_remaining=Inf", "", "min_remaining"},
		{"PUT", "/api/v1/datasets/srslo", `{"retention_days":106752}`, "retention_days: must be between"},
		{"PUT", "/api/v1/datasets/srslo", `{"retention_days":1e300}`, "retention_days: must be between"},
		{"POST", "/api/v1/query/srslo", `{"time_range":1000000000000000000}`, "time_range: 1000000000000000000 s is longer than the longest"},
		{"POST", "/api/v1/query/srslo", `{"start_time":-9223372036854775808,"end_time":9223372036854775807}`, "start_time: must be between 0 and 253402300799"},
		{"POST", "/api/v1/explain/srslo", `{"time_range":1000000000000000000,"selection":{"filters":[{"column":"status_code","op":">=","value":500}]}}`, "time_range: "},
	} {
		code, body := raw(c.method, c.path, c.body)
		if code != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s %s %s: %d %s, want 400 saying %q", c.method, c.path, c.body, code, body, c.want)
		}
	}
	if code, body := raw("PUT", "/api/v1/datasets/srslo", `{"retention_days":36500}`); code != 200 {
		t.Errorf("the longest retention: %d %s", code, body)
	}
}
