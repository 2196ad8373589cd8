package explain_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/slo"
)

// chCatalog is a one-column TableCatalog; the refusals below come before
// any statement runs.
type chCatalog struct{}

func (chCatalog) Column(name string) (schema.Column, bool) {
	return schema.Column{Name: "status_code", Type: schema.Integer, Phys: "c1"}, name == "status_code"
}
func (chCatalog) From([]string, time.Time, time.Time) string { return "(SELECT 1)" }
func (chCatalog) Weighted(time.Time, time.Time) bool         { return false }
func (c chCatalog) Columns() []schema.Column {
	col, _ := c.Column("status_code")
	return []schema.Column{col}
}
func (chCatalog) Table() string           { return "t" }
func (chCatalog) Expr(phys string) string { return "`" + phys + "_i`" }

func TestClickHouseRefusesSLOSelections(t *testing.T) {
	slos := func(name string) (slo.SLO, bool) {
		return slo.SLO{Name: name, SLI: slo.SLI{Good: "status_code < 500"}}, name == "avail"
	}
	_, err := explain.RunClickHouse(context.Background(), nil, chCatalog{}, &explain.Request{TimeRange: 3600, Selection: explain.Selection{SLO: "avail"}}, now, slos)
	var e *explain.Error
	if !errors.As(err, &e) || e.Field != "selection.slo" || !strings.Contains(e.Msg, "not supported on ClickHouse") {
		t.Errorf("SLO selection: %v, want an *explain.Error", err)
	}
	var dbe *explain.DBError
	if errors.As(err, &dbe) {
		t.Errorf("SLO selection refused as a database failure (500): %v", err)
	}
	// An unknown SLO is still named as such.
	if _, err := explain.RunClickHouse(context.Background(), nil, chCatalog{}, &explain.Request{TimeRange: 3600, Selection: explain.Selection{SLO: "nope"}}, now, slos); err == nil || !strings.Contains(err.Error(), `no SLO named "nope"`) {
		t.Errorf("unknown SLO: %v", err)
	}
}
