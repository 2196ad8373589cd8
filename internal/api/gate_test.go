package api

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// min_remaining must be a percentage: NaN and Inf once passed the range
// check (every comparison with NaN is false) and the gate answered 200
// with an empty body.
func TestGateRefusesNaN(t *testing.T) {
	s := &Server{}
	for _, v := range []string{"NaN", "nan", "Inf", "-Inf", "+Inf", "101", "-1", "x"} {
		rec := httptest.NewRecorder()
		s.sloGate(rec, httptest.NewRequest("GET", "/api/v1/slos/x/gate?min_remaining="+v, nil))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "min_remaining") {
			t.Errorf("min_remaining=%s: %d %s", v, rec.Code, rec.Body.String())
		}
	}
}

// An answer JSON cannot encode is a 500 with a JSON error, never the
// status it was meant to have over an empty body.
func TestWriteJSONUnencodable(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, map[string]float64{"x": math.NaN()})
	var e struct{ Error string }
	if rec.Code != http.StatusInternalServerError || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
		t.Errorf("%d %q", rec.Code, rec.Body.String())
	}
}
