package sandbox

import (
	"net/http"
	"testing"
	"time"
)

func TestPatientFilters(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	org := "/pub/patient?page[size]=50&filter[organization]=" + s.OrganizationID
	src := expectError(t, h.get("/pub/patient"), http.StatusConflict, CodeInvalidParameter)
	if src["parameter"] != "filter[groups]" {
		t.Errorf("at-least-one source %v", src)
	}
	if n := h.get(org + "&page[size]=0").count(t); n != 60 {
		t.Errorf("organization: %d", n)
	}
	g0 := h.get("/pub/patient?page[size]=0&filter[groups]=" + s.GroupIDs[0]).count(t)
	g01 := h.get("/pub/patient?page[size]=0&filter[groups]=" + s.GroupIDs[0] + "," + s.GroupIDs[1]).count(t)
	if g0 == 0 || g01 <= g0 || g01 >= 60 {
		t.Errorf("groups: %d, two groups %d", g0, g01)
	}
	if n := h.get("/pub/patient?filter[organization]=nope").count(t); n != 0 {
		t.Errorf("unknown organization: %d", n)
	}
	if n := h.get(org + "&filter[archived]=true").count(t); n != 4 {
		t.Errorf("archived: %d, want 4", n)
	}
	expectError(t, h.get(org+"&filter[archived]=maybe"), http.StatusConflict, CodeInvalidParameter)

	byID := h.get(org + "&filter[identifier][system]=medical-record-number&filter[identifier][value]=MRN-0001")
	if l := byID.list(t); len(l) != 1 || l[0].ID != s.PatientID {
		t.Errorf("identifier: %s", byID.Raw)
	}
	for _, half := range []string{"&filter[identifier][system]=medical-record-number", "&filter[identifier][value]=MRN-0001"} {
		expectError(t, h.get(org+half), http.StatusConflict, CodeInvalidParameter)
	}

	// Time ranges: start inclusive, end exclusive, on created_at and updated_at.
	all := h.get(org).list(t)
	c0 := all[0].Attributes["created_at"].(string)
	c1 := all[1].Attributes["created_at"].(string)
	r := h.get(org + "&filter[created_at]=" + c0 + ".." + c1)
	if l := r.list(t); len(l) != 1 || l[0].ID != all[0].ID {
		t.Errorf("created_at range [c0,c1): %s", r.Raw)
	}
	shared := map[string]int{}
	for _, p := range all {
		shared[p.Attributes["updated_at"].(string)]++
	}
	var same string
	for ts, n := range shared {
		if n >= 3 {
			same = ts
		}
	}
	if same == "" {
		t.Fatal("seed has no patients with equal updated_at")
	}
	at, _ := time.Parse(time.RFC3339, same)
	win := at.Format(time.RFC3339) + ".." + at.Add(time.Millisecond).Format(time.RFC3339Nano)
	if n := h.get(org + "&filter[updated_at]=" + win).count(t); n != shared[same] {
		t.Errorf("updated_at window: %d, want %d", n, shared[same])
	}
	empty := at.Format(time.RFC3339) + ".." + at.Format(time.RFC3339)
	if n := h.get(org + "&filter[updated_at]=" + empty).count(t); n != 0 {
		t.Errorf("empty range: %d", n)
	}
	for _, bad := range []string{"2026-01-01T00:00:00Z", "yesterday..today", "2026-02-01T00:00:00Z..2026-01-01T00:00:00Z"} {
		src := expectError(t, h.get(org+"&filter[created_at]="+bad), http.StatusConflict, CodeInvalidParameter)
		if src["parameter"] != "filter[created_at]" {
			t.Errorf("%s: source %v", bad, src)
		}
	}
	expectError(t, h.get(org+"&filter[nickname]=x"), http.StatusConflict, CodeInvalidParameter)
}

func TestCalendarEventFilters(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	expectError(t, h.get("/pub/calendar_event?filter[type]=reminder"), http.StatusConflict, CodeInvalidParameter)
	base := "/pub/calendar_event?page[size]=50&filter[organization]=" + s.OrganizationID
	total := h.get(base).count(t)
	if total != 62 {
		t.Fatalf("events %d, want 62", total)
	}
	done := h.get(base + "&filter[completed]=true").count(t)
	open := h.get(base + "&filter[completed]=false").count(t)
	if done == 0 || open == 0 || done+open != total {
		t.Errorf("completed %d + open %d != %d", done, open, total)
	}
	sum := 0
	for _, typ := range calendarEventTypes {
		a := h.get(base + "&filter[type]=" + typ)
		for _, e := range a.list(t) {
			if e.Attributes["type"] != typ {
				t.Errorf("type filter %s answered %v", typ, e.Attributes["type"])
			}
		}
		sum += a.count(t)
	}
	if sum != total {
		t.Errorf("types sum %d, want %d", sum, total)
	}
	mine := h.get("/pub/calendar_event?filter[patient]=" + s.PatientID)
	if mine.count(t) != 4 {
		t.Errorf("patient events %d, want 4", mine.count(t))
	}
	coach := s.CoachIDs[0]
	att := h.get("/pub/calendar_event?page[size]=50&filter[attendees]=" + coach)
	if att.count(t) == 0 || att.count(t) >= total {
		t.Errorf("attendee events %d", att.count(t))
	}
	// start_at window: the events starting in the 10 days before the clock.
	win := epoch.Add(-10*24*time.Hour).Format(time.RFC3339) + ".." + epoch.Format(time.RFC3339)
	for _, e := range h.get(base + "&filter[start_at]=" + win).list(t) {
		at, _ := time.Parse(time.RFC3339, e.Attributes["start_at"].(string))
		if at.Before(epoch.Add(-10*24*time.Hour)) || !at.Before(epoch) {
			t.Errorf("start_at %s outside window", at)
		}
	}
	completedWin := "2000-01-01T00:00:00Z..2100-01-01T00:00:00Z"
	if n := h.get(base + "&filter[completed_at]=" + completedWin).count(t); n != done {
		t.Errorf("completed_at over all time %d, want %d", n, done)
	}
	expectError(t, h.get(base+"&filter[type]=party"), http.StatusConflict, CodeInvalidParameter)
	inc := h.get("/pub/calendar_event?filter[patient]=" + s.PatientID + "&include=owner")
	if len(inc.Doc.Included) != 1 || inc.Doc.Included[0].ID != s.PatientID {
		t.Errorf("include owner: %v", inc.Doc.Included)
	}
}

func TestAtLeastOneOfRules(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	for _, target := range []string{"/pub/health_profile", "/pub/health_profile_answer", "/pub/email_history",
		"/pub/calendar_event", "/pub/patient", "/pub/group", "/pub/patient_health_metric", "/pub/reward_program",
		"/pub/reward_earning?filter[groups]=" + s.GroupIDs[0], "/pub/reward_earning?filter[patient]=" + s.PatientID,
		"/pub/reward?filter[thread]=x", "/pub/patient_plan_summary", "/pub/reward_program_activation",
		"/pub/reward_earning_fulfillment"} {
		expectError(t, h.get(target), http.StatusConflict, CodeInvalidParameter)
	}
	if n := h.get("/pub/health_profile?filter[patient]=" + s.PatientID).count(t); n != 1 {
		t.Errorf("profiles of patient: %d", n)
	}
	if n := h.get("/pub/health_profile?filter[groups]=" + s.GroupIDs[2]).count(t); n == 0 || n >= 15 {
		t.Errorf("profiles of group: %d", n)
	}
	if n := h.get("/pub/health_profile_answer?filter[patient]=" + s.PatientID).count(t); n != 4 {
		t.Errorf("answers of patient: %d", n)
	}
	emails := h.get("/pub/email_history?filter[receiver]=" + s.PatientID + "&sort=-send_time")
	l := emails.list(t)
	if len(l) != 2 || l[0].Attributes["send_time"].(string) < l[1].Attributes["send_time"].(string) {
		t.Errorf("emails sorted desc: %s", emails.Raw)
	}
	if n := h.get("/pub/email_history?filter[sender]=" + s.CoachIDs[0]).count(t); n != 10 {
		t.Errorf("emails by coach: %d", n)
	}
}

func TestRewardFilters(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	progs := h.get("/pub/reward_program?filter[groups]=" + s.GroupIDs[0] + "," + s.GroupIDs[1])
	if progs.count(t) != 2 {
		t.Errorf("programs %s", progs.Raw)
	}
	grp := h.get("/pub/reward_program/" + s.RewardProgramID + "/group")
	if grp.one(t).ID != s.GroupIDs[0] {
		t.Errorf("program group %s", grp.Raw)
	}
	if n := h.get("/pub/reward?filter[patient]=" + s.PatientID).count(t); n != 2 {
		t.Errorf("rewards %d", n)
	}
	if n := h.get("/pub/reward?filter[patient]=" + s.PatientID + "&filter[thread]=thread-00").count(t); n != 2 {
		t.Errorf("rewards of thread %d", n)
	}
	earn := "/pub/reward_earning?filter[patient]=" + s.PatientID + "&filter[groups]=" + s.GroupIDs[0]
	if n := h.get(earn).count(t); n != 1 {
		t.Errorf("earnings %d", n)
	}
	// Patient 0's earning is ready and already fulfilled: neither ready filter answers it.
	for _, v := range []string{"true", "false"} {
		if n := h.get(earn + "&filter[ready_for_fulfillment]=" + v).count(t); n != 0 {
			t.Errorf("ready=%s: %d", v, n)
		}
	}
	if n := h.get("/pub/reward_earning_fulfillment?filter[patient]=" + s.PatientID).count(t); n != 1 {
		t.Errorf("fulfillments %d", n)
	}
	if n := h.get("/pub/reward_program_activation?filter[patient]=" + s.PatientID).count(t); n != 1 {
		t.Errorf("activations %d", n)
	}
}
