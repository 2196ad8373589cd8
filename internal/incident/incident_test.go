package incident

import (
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/duration"
)

func TestLifecycleMeasuresTimes(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	inc, err := Open("i1", "checkout errors", "", "pager", t0, t0.Add(4*time.Minute), t0.Add(4*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if inc.Severity != "sev2" || inc.Status != Investigating || inc.TTD != duration.Coarse(4*time.Minute) || inc.TTR != nil {
		t.Fatalf("opened: %+v", inc)
	}
	cmd, mit := "alice", Mitigated
	if err := inc.Apply(Change{Commander: &cmd, Status: &mit}, "alice", t0.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if inc.TTR == nil || *inc.TTR != duration.Coarse(16*time.Minute) || inc.Commander != "alice" {
		t.Fatalf("mitigated: %+v", inc)
	}
	res := Resolved
	pm := Postmortem{Summary: "a bad build", FollowUps: []FollowUp{{Title: "canary deploys", Risk: "bad-deploy"}}}
	if err := inc.Apply(Change{Status: &res, Postmortem: &pm}, "bob", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if *inc.TTR != duration.Coarse(16*time.Minute) || inc.ResolvedAt == nil || inc.Postmortem.FollowUps[0].Risk != "bad-deploy" {
		t.Fatalf("resolved: %+v", inc)
	}
	var kinds []string
	for _, e := range inc.Events {
		kinds = append(kinds, e.Kind+":"+e.Author)
	}
	if got := strings.Join(kinds, ","); got != "opened:pager,role:alice,status:alice,status:bob,postmortem:bob" {
		t.Errorf("events %s", got)
	}
	m := inc.Measured(-1)
	if m.TTD != duration.Coarse(4*time.Minute) || m.TTR != duration.Coarse(16*time.Minute) || m.Ongoing {
		t.Errorf("measured %+v", m)
	}
}

func TestRefusedChangesLeaveItAsItWas(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	inc, _ := Open("i1", "x", "sev1", "a", time.Time{}, t0, t0)
	before := len(inc.Events)
	bad := []Change{
		{Status: ptr("done")},
		{Severity: ptr("sev9")},
		{Title: ptr(" ")},
		{StartedAt: &[]time.Time{t0.Add(time.Hour)}[0]},
		{Status: ptr(Mitigated), MitigatedAt: &[]time.Time{t0.Add(-time.Hour)}[0]},
		{Postmortem: &Postmortem{FollowUps: []FollowUp{{Title: "x", URL: "javascript:alert(1)"}}}},
	}
	for i, c := range bad {
		if err := inc.Apply(c, "a", t0.Add(time.Minute)); err == nil {
			t.Errorf("change %d accepted", i)
		}
	}
	if len(inc.Events) != before || inc.Status != Investigating || inc.Severity != "sev1" {
		t.Errorf("refused changes changed it: %+v", inc)
	}
}

func ptr(s string) *string { return &s }
