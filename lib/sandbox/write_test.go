package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func rel(name, typ, id string) string {
	return fmt.Sprintf(`%q:{"data":{"type":%q,"id":%q}}`, name, typ, id)
}

func TestMetaQueryLookups(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	// A metric addressed by patient identifier.
	metric := func(system, value, org string) *answer {
		return h.send("POST", "/pub/patient_health_metric", `{"data":{"type":"patient_health_metric",
			"attributes":{"type":"ldl_cholesterol","code":{"system":"LOINC","value":"13457-7"},"occurred_at":"2026-03-01T11:00:57.000Z","value":121,"unit":"mg/dl"},
			"relationships":{"patient":{"data":{"type":"patient","meta":{"query":{"identifier":{"system":"`+system+`","value":"`+value+`"},"organization":"`+org+`"}}}}}}}`)
	}
	a := metric("medical-record-number", "MRN-0001", s.OrganizationID)
	expectStatus(t, a, http.StatusOK)
	var p struct{ Data identifier }
	_ = json.Unmarshal(a.one(t).Relationships["patient"], &p)
	if p.Data.ID != s.PatientID {
		t.Fatalf("metric patient %v, want %s", p.Data, s.PatientID)
	}
	src := expectError(t, metric("medical-record-number", "MRN-9999", s.OrganizationID), http.StatusNotFound, CodeResourceNotFound)
	if src["pointer"] != "/data/relationships/patient/data/meta/query" {
		t.Errorf("source %v", src)
	}
	expectError(t, metric("medical-record-number", "MRN-0001", "other-org"), http.StatusNotFound, CodeResourceNotFound)
	expectError(t, metric("", "MRN-0001", s.OrganizationID), http.StatusConflict, CodeInvalidBodyParameter)

	// A patient created into a group addressed by organization and name.
	c := h.send("POST", "/pub/patient", `{"data":{"type":"patient","attributes":{"first_name":"Andrew","last_name":"Smith"},
		"relationships":{"groups":{"data":[{"type":"group","meta":{"query":{"organization":"`+s.OrganizationID+`","name":"Patients Lead"}}}]}}}}`)
	expectStatus(t, c, http.StatusCreated)
	var g struct{ Data []identifier }
	_ = json.Unmarshal(c.one(t).Relationships["groups"], &g)
	if len(g.Data) != 1 || g.Data[0].ID != s.GroupIDs[0] {
		t.Fatalf("groups %v", g.Data)
	}
	expectError(t, h.send("POST", "/pub/patient", `{"data":{"type":"patient","attributes":{},
		"relationships":{"groups":{"data":[{"type":"group","meta":{"query":{"organization":"`+s.OrganizationID+`","name":"Nope"}}}]}}}}`),
		http.StatusNotFound, CodeResourceNotFound)
}

func TestUpsertPatientIsIdempotent(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	body := func(first string) string {
		return `{"data":{"type":"patient","attributes":{"first_name":"` + first + `","last_name":"Okafor","gender":"female"},
			"meta":{"query":{"identifier":{"system":"MyEHR","value":"UP-1"}}},
			"relationships":{"groups":{"data":[{"type":"group","id":"` + s.GroupIDs[1] + `"}]}}}}`
	}
	a := h.send("PUT", "/pub/patient", body("Ada"))
	expectStatus(t, a, http.StatusOK)
	id := a.one(t).ID
	created := a.one(t).Attributes["updated_at"]
	h.clock.Add(time.Minute)
	b := h.send("PUT", "/pub/patient", body("Adaeze"))
	expectStatus(t, b, http.StatusOK)
	if b.one(t).ID != id {
		t.Fatalf("second upsert made another patient")
	}
	if b.one(t).Attributes["first_name"] != "Adaeze" || b.one(t).Attributes["updated_at"] == created {
		t.Fatalf("upsert did not update: %v", b.one(t).Attributes)
	}
	found := h.get("/pub/patient?filter[groups]=" + s.GroupIDs[1] + "&filter[identifier][system]=MyEHR&filter[identifier][value]=UP-1")
	if found.count(t) != 1 {
		t.Fatalf("patients with UP-1: %d", found.count(t))
	}
	// An upsert of a seeded patient updates it.
	c := h.send("PUT", "/pub/patient", `{"data":{"type":"patient","attributes":{"note":"synced"},"meta":{"query":{"identifier":{"system":"medical-record-number","value":"MRN-0001"}}}}}`)
	if c.one(t).ID != s.PatientID || c.one(t).Attributes["note"] != "synced" {
		t.Fatalf("upsert of MRN-0001: %s", c.Raw)
	}
	src := expectError(t, h.send("PUT", "/pub/patient", `{"data":{"type":"patient","attributes":{}}}`), http.StatusConflict, CodeInvalidBodyParameter)
	if src["pointer"] != "/meta/query/identifier" {
		t.Errorf("source %v", src)
	}
}

func TestCreatePatientDuplicates(t *testing.T) {
	h := newHarness(t, Options{})
	dup := `{"data":{"type":"patient","attributes":{"identifiers":[{"system":"medical-record-number","value":"MRN-0002"}]}}%s}`
	src := expectError(t, h.send("POST", "/pub/patient", fmt.Sprintf(dup, "")), http.StatusConflict, CodeInvalidBodyParameter)
	if src["pointer"] != "/data/attributes/identifiers" {
		t.Errorf("source %v", src)
	}
	a := h.send("POST", "/pub/patient", fmt.Sprintf(dup, `,"meta":{"ignore_duplicates":true}`))
	expectStatus(t, a, http.StatusOK)
	if a.Doc.Meta["ignored"] != float64(1) || a.one(t).ID != h.sb.Seeded().PatientIDs[1] {
		t.Errorf("ignored duplicate: %s", a.Raw)
	}
}

func TestBulkMetrics(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	items := make([]string, 5)
	for i := range items {
		items[i] = `{"type":"patient_health_metric","attributes":{"type":"weight","value":` + fmt.Sprint(80+i) +
			`,"unit":"kg","occurred_at":"2026-03-0` + fmt.Sprint(i+1) + `T08:00:00Z","code":{"system":"LOINC","value":"29463-7"}},` +
			`"relationships":{` + rel("patient", "patient", s.PatientIDs[30]) + `}}`
	}
	body := `{"data":[` + strings.Join(items, ",") + `]}`
	a := h.send("POST", "/pub/patient_health_metric", body)
	expectStatus(t, a, http.StatusOK)
	if l := a.list(t); len(l) != 5 || l[4].Attributes["value"] != float64(84) {
		t.Fatalf("bulk answer: %s", a.Raw)
	}
	list := h.get("/pub/patient_health_metric?filter[patient]=" + s.PatientIDs[30])
	if list.count(t) != 5 {
		t.Fatalf("metrics of patient: %d", list.count(t))
	}
	// Again with ignore_duplicates: nothing new.
	again := h.send("POST", "/pub/patient_health_metric", `{"data":[`+strings.Join(items, ",")+`],"meta":{"ignore_duplicates":true}}`)
	if again.Doc.Meta["ignored"] != float64(5) || h.get("/pub/patient_health_metric?filter[patient]="+s.PatientIDs[30]).count(t) != 5 {
		t.Fatalf("duplicates not ignored: %s", again.Raw)
	}
	// One bad item rejects the whole batch, pointing at it.
	bad := `{"data":[` + items[0] + `,{"type":"patient_health_metric","attributes":{"type":"mood"},"relationships":{` +
		rel("patient", "patient", s.PatientIDs[30]) + `}}]}`
	src := expectError(t, h.send("POST", "/pub/patient_health_metric", bad), http.StatusConflict, CodeInvalidBodyParameter)
	if src["pointer"] != "/data/1/attributes/type" {
		t.Errorf("source %v", src)
	}
	if n := h.get("/pub/patient_health_metric?filter[patient]=" + s.PatientIDs[30]).count(t); n != 5 {
		t.Errorf("a rejected batch stored metrics: %d", n)
	}
	// The plan's current results follow the newest metric.
	if err := json.Unmarshal(a.Doc.Data, new([]jsonObject)); err != nil {
		t.Fatal(err)
	}
	plan := h.get("/pub/patient_plan_summary?filter[patient]=" + s.PatientID + "&include=current_results")
	if plan.count(t) != 1 || len(plan.Doc.Included) < 5 {
		t.Errorf("plan current results: %d included", len(plan.Doc.Included))
	}
}

func TestIncludeAndNotFound(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	a := h.get("/pub/patient_plan_summary?filter[patient]=" + s.PatientID + "&include=actions,bundles,patient")
	types := map[string]int{}
	for _, o := range a.Doc.Included {
		types[o.Type]++
	}
	if types["action"] < 2 || types["bundle"] != 1 || types["patient"] != 1 {
		t.Errorf("included %v", types)
	}
	expectError(t, h.get("/pub/patient_plan_summary?filter[patient]="+s.PatientID+"&include=coach"), http.StatusConflict, CodeInvalidParameter)
	prof := h.get("/pub/health_profile?filter[patient]=" + s.PatientID + "&include=questions,patient")
	if len(prof.Doc.Included) != 6 {
		t.Errorf("profile includes %d", len(prof.Doc.Included))
	}
	var q struct{ Data []identifier }
	_ = json.Unmarshal(prof.list(t)[0].Relationships["questions"], &q)
	qd := h.get("/pub/health_profile_question/" + q.Data[0].ID + "?include=question_definition,answer")
	if len(qd.Doc.Included) != 2 {
		t.Errorf("question includes: %s", qd.Raw)
	}
	for _, p := range []string{"/pub/patient/000000000000000000000000", "/pub/group/x", "/pub/coach/x", "/pub/action/x",
		"/pub/reward_program/x/group", "/pub/patient/x/coaches", "/pub/health_question_definition/x"} {
		expectError(t, h.get(p), http.StatusNotFound, CodeResourceNotFound)
	}
	expectError(t, h.get("/pub/nothing-here"), http.StatusNotFound, CodeResourceNotFound)
	a = h.do("DELETE", "/pub/patient/"+s.PatientID, "", "", "Authorization", "Bearer "+h.token)
	expectError(t, a, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	if !strings.Contains(a.Header.Get("Allow"), "PATCH") {
		t.Errorf("Allow %q", a.Header.Get("Allow"))
	}
	expectError(t, h.send("PATCH", "/pub/patient/nope", `{"data":{"type":"patient","attributes":{}}}`), http.StatusNotFound, CodeResourceNotFound)
	src := expectError(t, h.send("POST", "/pub/patient_health_metric", `{"data":{"type":"patient_health_metric","attributes":{"type":"weight"},"relationships":{`+
		rel("patient", "patient", "nope")+`}}}`), http.StatusNotFound, CodeResourceNotFound)
	if src["pointer"] != "/data/relationships/patient/data/id" {
		t.Errorf("source %v", src)
	}
}

func TestUpdatesBumpUpdatedAt(t *testing.T) {
	h := newHarness(t, Options{TokenLifetime: 24 * time.Hour})
	s := h.sb.Seeded()
	before := h.get("/pub/patient/" + s.PatientID).one(t)
	h.clock.Add(time.Hour)
	a := h.send("PATCH", "/pub/patient/"+s.PatientID, `{"data":{"type":"patient","id":"`+s.PatientID+`","attributes":{"archived":true,"note":"moved"}}}`)
	expectStatus(t, a, http.StatusOK)
	after := a.one(t)
	if after.Attributes["updated_at"] != formatTime(epoch.Add(time.Hour)) || after.Attributes["created_at"] != before.Attributes["created_at"] {
		t.Errorf("timestamps %v -> %v", before.Attributes, after.Attributes)
	}
	if after.Attributes["archived"] != true || after.Attributes["first_name"] != before.Attributes["first_name"] {
		t.Errorf("merge: %v", after.Attributes)
	}
	since := epoch.Add(30*time.Minute).Format(time.RFC3339) + ".." + epoch.Add(2*time.Hour).Format(time.RFC3339)
	if l := h.get("/pub/patient?filter[organization]=" + s.OrganizationID + "&filter[updated_at]=" + since).list(t); len(l) != 1 || l[0].ID != s.PatientID {
		t.Errorf("updated_at watermark finds %d", len(l))
	}
	expectError(t, h.send("PATCH", "/pub/patient/"+s.PatientID, `{"data":{"type":"patient","id":"other","attributes":{}}}`),
		http.StatusConflict, CodeInvalidBodyParameter)
}

func TestCalendarEventLifecycle(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	src := expectError(t, h.send("POST", "/pub/calendar_event", `{"data":{"type":"calendar_event","attributes":{"type":"plan-check-in","all_day":false,"start_at":"2026-04-01T00:00:00Z"},"relationships":{`+rel("owner", "patient", s.PatientID)+`}}}`),
		http.StatusConflict, CodeInvalidBodyParameter)
	if src["pointer"] != "/data/attributes/all_day" {
		t.Errorf("source %v", src)
	}
	expectError(t, h.send("POST", "/pub/calendar_event", `{"data":{"type":"calendar_event","attributes":{"type":"plan-check-in","all_day":true,"start_at":"2026-04-01T00:00:00Z","end_at":"2026-04-02T00:00:00Z"}}}`),
		http.StatusConflict, CodeInvalidBodyParameter)
	a := h.send("POST", "/pub/calendar_event", `{"data":{"type":"calendar_event","attributes":{"type":"video-call","title":"Check-in","start_at":"2026-04-01T15:00:00Z","end_at":"2026-04-01T15:30:00Z",
		"attendees":[{"type":"patient","id":"`+s.PatientID+`","response_status":"tentative"}]},"relationships":{`+rel("owner", "patient", s.PatientID)+`}}}`)
	expectStatus(t, a, http.StatusCreated)
	id := a.one(t).ID
	r := h.send("POST", "/pub/calendar_event_response", `{"data":{"type":"calendar_event_response","attributes":{"response_status":"declined"},"relationships":{`+
		rel("calendar_event", "calendar_event", id)+`,`+rel("user", "patient", s.PatientID)+`}}}`)
	expectStatus(t, r, http.StatusCreated)
	ev := h.get("/pub/calendar_event/" + id).one(t)
	att := ev.Attributes["attendees"].([]any)[0].(map[string]any)
	if att["response_status"] != "declined" {
		t.Errorf("attendee %v", att)
	}
	done := h.send("PATCH", "/pub/calendar_event/"+id, `{"data":{"type":"calendar_event","attributes":{"completed_at":"2026-04-01T15:30:00Z","completed_by":{"type":"coach","id":"`+s.CoachIDs[0]+`"}}}}`)
	if done.one(t).Attributes["completed_at"] == nil {
		t.Errorf("not completed: %s", done.Raw)
	}
	undone := h.send("PATCH", "/pub/calendar_event/"+id, `{"data":{"type":"calendar_event","attributes":{"completed_at":null,"completed_by":null}}}`)
	if _, ok := undone.one(t).Attributes["completed_at"]; ok {
		t.Errorf("still completed: %s", undone.Raw)
	}
	expectStatus(t, h.do("DELETE", "/pub/calendar_event/"+id, "", "", "Authorization", "Bearer "+h.token), http.StatusOK)
	expectError(t, h.get("/pub/calendar_event/"+id), http.StatusNotFound, CodeResourceNotFound)
}

func TestRewardChain(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	p := s.PatientIDs[40]
	prog := h.send("POST", "/pub/reward_program", `{"data":{"type":"reward_program","attributes":{"name":"Sleep","budget_value":100,"budget_unit":"point","start_at":"2026-03-01T00:00:00Z","end_at":"2026-06-01T00:00:00Z"},"relationships":{`+rel("group", "group", s.GroupIDs[2])+`}}}`)
	expectStatus(t, prog, http.StatusOK)
	actBody := `{"data":{"type":"reward_program_activation","attributes":{"activated_at":"2026-03-02T00:00:00Z"},"relationships":{` +
		rel("patient", "patient", p) + `,` + rel("reward_program", "reward_program", prog.one(t).ID) + `}}}`
	act := h.send("POST", "/pub/reward_program_activation", actBody)
	expectStatus(t, act, http.StatusOK)
	expectError(t, h.send("POST", "/pub/reward_program_activation", actBody), http.StatusConflict, CodeInvalidBodyParameter)
	var rewards []string
	for i := range 2 {
		r := h.send("POST", "/pub/reward", `{"data":{"type":"reward","attributes":{"description":"Sleep 7h `+fmt.Sprint(i)+`","allocated_at":"2026-03-02T00:00:00Z","allocated_value":5},"relationships":{`+
			rel("patient", "patient", p)+`,`+rel("reward_program_activation", "reward_program_activation", act.one(t).ID)+`}}}`)
		expectStatus(t, r, http.StatusOK)
		rewards = append(rewards, r.one(t).ID)
	}
	earning := func(reward string) string {
		return `{"type":"reward_earning","attributes":{"earned_at":"2026-03-05T00:00:00Z","earned_value":5,"ready_for_fulfillment":true},"relationships":{` +
			rel("reward", "reward", reward) + `,` + rel("group", "group", s.GroupIDs[2]) + `}}`
	}
	e := h.send("POST", "/pub/reward_earning", `{"data":[`+earning(rewards[0])+`,`+earning(rewards[1])+`]}`)
	expectStatus(t, e, http.StatusOK)
	if len(e.list(t)) != 2 {
		t.Fatalf("bulk earnings: %s", e.Raw)
	}
	expectError(t, h.send("POST", "/pub/reward_earning", `{"data":`+earning(rewards[0])+`}`), http.StatusConflict, CodeInvalidBodyParameter)
	ready := "/pub/reward_earning?filter[patient]=" + p + "&filter[groups]=" + s.GroupIDs[2] + "&filter[ready_for_fulfillment]=true"
	if n := h.get(ready).count(t); n != 2 {
		t.Fatalf("ready earnings %d", n)
	}
	f := h.send("POST", "/pub/reward_earning_fulfillment", `{"data":{"type":"reward_earning_fulfillment","attributes":{"fulfilled_at":"2026-03-06T00:00:00Z","fulfilled_value":5},"relationships":{`+
		rel("reward_earning", "reward_earning", e.list(t)[0].ID)+`}}}`)
	expectStatus(t, f, http.StatusOK)
	if n := h.get(ready).count(t); n != 1 {
		t.Fatalf("ready earnings after fulfillment %d", n)
	}
	if got := h.get("/pub/reward/" + rewards[0]).one(t).Attributes["fulfilled_at"]; got == nil {
		t.Errorf("reward not marked fulfilled")
	}
}

func TestPlanActionsAndBundles(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	plan := h.get("/pub/patient_plan_summary?filter[patient]=" + s.PatientID).list(t)[0]
	a := h.send("POST", "/pub/action", `{"data":{"type":"action","attributes":{"type":"other_lifestyle","title":"Stretch","effective_from":"2026-03-10T00:00:00Z"},"relationships":{`+rel("plan", "patient_plan_summary", plan.ID)+`}}}`)
	expectStatus(t, a, http.StatusCreated)
	expectError(t, h.send("POST", "/pub/action", `{"data":{"type":"action","attributes":{"type":"other_lifestyle","effective_from":"2026-03-10T00:00:00Z"},"relationships":{`+rel("plan", "patient_plan_summary", plan.ID)+`}}}`),
		http.StatusConflict, CodeInvalidBodyParameter)
	u := h.send("PATCH", "/pub/action/"+a.one(t).ID, `{"data":{"type":"action","attributes":{"title":"Stretch daily"}}}`)
	if u.one(t).Attributes["title"] != "Stretch daily" {
		t.Errorf("update action: %s", u.Raw)
	}
	b := h.send("POST", "/pub/bundle", `{"data":{"type":"bundle","attributes":{"type":"custom","title":"Mobility","effective_from":"2026-03-10T00:00:00Z"},"relationships":{`+
		rel("plan", "patient_plan_summary", plan.ID)+`,"actions":{"data":[{"type":"action","id":"`+a.one(t).ID+`"}]}}}}`)
	expectStatus(t, b, http.StatusOK)
	got := h.get("/pub/patient_plan_summary/" + plan.ID + "?include=actions,bundles")
	ids := map[string]bool{}
	for _, o := range got.Doc.Included {
		ids[o.ID] = true
	}
	if !ids[a.one(t).ID] || !ids[b.one(t).ID] {
		t.Errorf("plan does not include the new action and bundle")
	}
	up := h.send("PATCH", "/pub/patient_plan_summary/"+plan.ID, `{"data":{"type":"patient_plan_summary","attributes":{"time_zone":"Europe/Berlin"}}}`)
	if up.one(t).Attributes["time_zone"] != "Europe/Berlin" {
		t.Errorf("plan update: %s", up.Raw)
	}
	g := h.send("POST", "/pub/group", `{"data":{"type":"group","attributes":{"name":"Sleep Clinic"}}}`)
	expectStatus(t, g, http.StatusCreated)
	if n := h.get("/pub/group?filter[organization]=" + s.OrganizationID + "&filter[name]=Sleep%20Clinic").count(t); n != 1 {
		t.Errorf("new group not listed")
	}
	expectError(t, h.send("POST", "/pub/group", `{"data":{"type":"group","attributes":{"name":"Sleep Clinic"}}}`), http.StatusConflict, CodeInvalidBodyParameter)
}

func TestBadBodies(t *testing.T) {
	h := newHarness(t, Options{})
	for body, ptr := range map[string]string{
		``:                              "/data",
		`not json`:                      "",
		`{"data":null}`:                 "/data",
		`{"data":[{"type":"patient"}]}`: "/data",
		`{"data":{"type":"group","attributes":{}}}`:                            "/data/type",
		`{"data":{"type":"patient","attributes":{"gender":"x"}}}`:              "/data/attributes/gender",
		`{"data":{"type":"patient","attributes":{"birth_date":"1990-13-01"}}}`: "/data/attributes/birth_date",
	} {
		src := expectError(t, h.send("POST", "/pub/patient", body), http.StatusConflict, CodeInvalidBodyParameter)
		if src["pointer"] != ptr {
			t.Errorf("%q: pointer %q, want %q", body, src["pointer"], ptr)
		}
	}
}
