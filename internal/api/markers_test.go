package api

import (
	"testing"

	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/query"
)

func TestWithMarkers(t *testing.T) {
	ms := []marker.Marker{{ID: "m1", Dataset: "d", StartTime: 100, Type: "deploy"}}
	type wrapped struct {
		*query.Result
		QueryID string `json:"query_id,omitempty"`
	}
	res := &query.Result{Series: []query.Point{}, Results: []query.Row{}, StartTime: 1, EndTime: 2, Granularity: 1}
	for _, tt := range []struct {
		name string
		v    any
		want string
	}{
		{"result", res, `{"series":[],"results":[],"start_time":1,"end_time":2,"granularity":1,"markers":[{"id":"m1","dataset":"d","start_time":100,"message":"","type":"deploy","author":"","created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}]}`},
		{"wrapped result", wrapped{Result: res, QueryID: "q"}, `{"series":[],"results":[],"start_time":1,"end_time":2,"granularity":1,"query_id":"q","markers":[`},
		{"empty object", struct{}{}, `{"markers":[`},
	} {
		got, err := withMarkers(tt.v, ms)
		if err != nil || len(got) < len(tt.want) || string(got[:len(tt.want)]) != tt.want {
			t.Errorf("%s: got %s, %v; want prefix %s", tt.name, got, err, tt.want)
		}
	}
	got, err := withMarkers(res, []marker.Marker{})
	if err != nil || string(got) != `{"series":[],"results":[],"start_time":1,"end_time":2,"granularity":1,"markers":[]}` {
		t.Errorf("no markers: %s, %v", got, err)
	}
	if _, err := withMarkers([]int{1}, ms); err == nil {
		t.Error("a list answer: want an error")
	}
}
