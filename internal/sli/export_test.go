package sli

// TextConversions gives the SQL of int(), double() and timestamp() of the
// string column col, for DuckDB and for ClickHouse, for tests that compare
// the values themselves.
func TextConversions(col string) map[string][2]string {
	x := val{sql: col, kind: kString, atom: true}
	ch := &clickHouse{}
	return map[string][2]string{
		"int":       {duckDB{}.toInt(x), ch.toInt(x)},
		"double":    {duckDB{}.toDouble(x), ch.toDouble(x)},
		"timestamp": {duckDB{}.toTime(x), ch.toTime(x)},
	}
}
