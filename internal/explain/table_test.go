package explain

import (
	"strings"
	"testing"
)

func TestWriteTable(t *testing.T) {
	a := Answer{SelectionCount: 120, BaselineCount: 5880, Columns: []Column{
		{Column: "build_id", Score: 0.91234, Values: []ValueShare{{Value: "4512", SelectionShare: 0.95, BaselineShare: 0.1}, {Value: "4511", SelectionShare: 0.05, BaselineShare: 0.9}}},
		{Column: "region", Score: 0.1, Values: []ValueShare{{Value: "eu", SelectionShare: 0.5, BaselineShare: 0.5}}},
	}}
	var b strings.Builder
	if err := a.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"selection: 120 events, baseline: 5880 events\n" +
		"COLUMN    SCORE  VALUE  SELECTION  BASELINE\n" +
		"build_id  0.912  4512   95.0%      10.0%\n" +
		"                 4511   5.0%       90.0%\n" +
		"region    0.100  eu     50.0%      50.0%\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
