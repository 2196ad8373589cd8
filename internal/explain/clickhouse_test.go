package explain_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/slo"
)

// chCatalog is a one-column TableCatalog; the refusal below comes before
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

func TestClickHouseNamesUnknownSLO(t *testing.T) {
	slos := func(name string) (slo.SLO, bool) { return slo.SLO{}, false }
	if _, err := explain.RunClickHouse(context.Background(), nil, chCatalog{}, &explain.Request{TimeRange: 3600, Selection: explain.Selection{SLO: "nope"}}, now, slos); err == nil || !strings.Contains(err.Error(), `no SLO named "nope"`) {
		t.Errorf("unknown SLO: %v", err)
	}
}
