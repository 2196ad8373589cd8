package marker

import (
	"strings"
	"testing"
	"time"
)

func TestWriteTable(t *testing.T) {
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ms := []Marker{
		{ID: "m1", StartTime: start.Unix(), Type: "deploy", Message: "v1.2.3\nbuild\t4512", URL: "https://ci/4512", Author: "ci"},
		{ID: "m2", StartTime: start.Unix(), EndTime: start.Add(time.Hour).Unix(), Type: "incident", Message: "db failover", Author: "alice"},
	}
	var b strings.Builder
	if err := WriteTable(&b, ms); err != nil {
		t.Fatal(err)
	}
	local := func(t time.Time) string { return t.Local().Format(time.DateTime) }
	want := "" +
		"ID  START                END                  TYPE      MESSAGE              URL              AUTHOR\n" +
		"m1  " + local(start) + "  -                    deploy    v1.2.3 ⏎ build 4512  https://ci/4512  ci\n" +
		"m2  " + local(start) + "  " + local(start.Add(time.Hour)) + "  incident  db failover                           alice\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
