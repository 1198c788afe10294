package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	connector "github.com/fitbitplus/connector"
)

// tinySpec describes one operation, enough to exercise the validator.
const tinySpec = `{
  "swagger": "2.0", "info": {"title": "tiny", "version": "1"}, "basePath": "/pub",
  "consumes": ["application/vnd.api+json"], "produces": ["application/vnd.api+json"],
  "paths": {
    "/patient": {
      "get": {"operationId": "fetchPatients", "parameters": [
        {"name": "filter[organization]", "in": "query", "type": "string"},
        {"name": "filter[archived]", "in": "query", "type": "boolean"},
        {"name": "page[size]", "in": "query", "type": "integer", "minimum": 0, "maximum": 50}],
        "responses": {"200": {"description": "ok"}}},
      "post": {"operationId": "createPatient", "parameters": [
        {"name": "body", "in": "body", "required": true, "schema": {"type": "object", "required": ["data"],
          "properties": {"data": {"type": "object", "required": ["type"], "properties": {
            "type": {"type": "string", "enum": ["patient"]},
            "attributes": {"type": "object", "properties": {"gender": {"type": "string", "enum": ["male", "female", "other"]},
              "first_name": {"type": "string"}}}}}}}}],
        "responses": {"201": {"description": "created"}}}
    }
  }
}`

func TestValidationWithTinySpec(t *testing.T) {
	h := newHarness(t, Options{Spec: []byte(tinySpec)})
	if !h.sb.Validating() {
		t.Fatal("validator off")
	}
	org := "/pub/patient?filter[organization]=" + h.sb.Seeded().OrganizationID
	expectStatus(t, h.get(org+"&page[size]=5"), http.StatusOK)
	src := expectError(t, h.get(org+"&filter[archived]=yes"), http.StatusConflict, CodeInvalidParameter)
	if src["parameter"] != "filter[archived]" {
		t.Errorf("source %v", src)
	}
	a := h.send("POST", "/pub/patient", `{"data":{"type":"patient","attributes":{"gender":"unknown","first_name":7}}}`)
	expectError(t, a, http.StatusConflict, CodeInvalidBodyParameter)
	pointers := map[string]bool{}
	for _, e := range a.Doc.Errors {
		pointers[e.Source["pointer"]] = true
		if strings.Contains(e.Detail, "unknown") {
			t.Errorf("detail echoes the value: %q", e.Detail)
		}
	}
	if !pointers["/data/attributes/gender"] || !pointers["/data/attributes/first_name"] {
		t.Errorf("pointers %v: %s", pointers, a.Raw)
	}
	src = expectError(t, h.send("POST", "/pub/patient", `{"data":{"attributes":{}}}`), http.StatusConflict, CodeInvalidBodyParameter)
	if src["pointer"] != "/data/type" {
		t.Errorf("missing type pointer %v", src)
	}
	// Operations the spec does not describe are left to the sandbox's own checks.
	expectStatus(t, h.get("/pub/organization/"+h.sb.Seeded().OrganizationID), http.StatusOK)
	if st := h.sb.Stats(); st.Invalid != 3 {
		t.Errorf("Invalid %d, want 3", st.Invalid)
	}
}

func TestValidationOffWithoutPaths(t *testing.T) {
	h := newHarness(t, Options{Spec: []byte(`{}`)})
	if h.sb.Validating() {
		t.Fatal("validating against an empty spec")
	}
	if _, err := New(Options{Spec: []byte(`not json`)}); err == nil {
		t.Fatal("a broken spec was accepted")
	}
}

// specOperations reads method, path and operationId out of a Swagger 2.0 document.
func specOperations(t *testing.T, spec []byte) map[string]string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op struct {
				OperationID string `json:"operationId"`
			}
			if json.Unmarshal(raw, &op) == nil && op.OperationID != "" {
				out[op.OperationID] = strings.ToUpper(method) + " " + path
			}
		}
	}
	return out
}

func requireSpec(t *testing.T) {
	t.Helper()
	if len(specOperations(t, connector.SwaggerJSON)) == 0 {
		t.Skip("swagger.json has no operations yet")
	}
}

// TestOperationsMatchSpec: the sandbox answers exactly the spec's operations.
func TestOperationsMatchSpec(t *testing.T) {
	requireSpec(t)
	spec := specOperations(t, connector.SwaggerJSON)
	ours := map[string]string{}
	for _, op := range operations() {
		ours[op.ID] = op.Method + " " + op.Path
	}
	if len(ours) != 58 {
		t.Errorf("sandbox has %d operations, want 58", len(ours))
	}
	for id, where := range spec {
		if ours[id] != where {
			t.Errorf("spec %s is %s; sandbox has %q", id, where, ours[id])
		}
	}
	for id := range ours {
		if _, ok := spec[id]; !ok {
			t.Errorf("sandbox operation %s is not in the spec", id)
		}
	}
}

// TestEveryOperationValidAgainstSpec sends one valid request per operation
// through the validator of the embedded swagger.json.
func TestEveryOperationValidAgainstSpec(t *testing.T) {
	requireSpec(t)
	h := newHarness(t, Options{Spec: connector.SwaggerJSON})
	if !h.sb.Validating() {
		t.Fatal("validator off")
	}
	s := h.sb.Seeded()
	first := func(typ string) string { return h.sb.db.table(typ).order[0].ID }
	tokAnswer := h.do("POST", "/pub/oauth/token?include=groups", MediaType, nestedGrant)
	expectStatus(t, tokAnswer, http.StatusCreated)
	h.token = tokAnswer.one(t).Attributes["access_token"].(string)
	tokenID := tokAnswer.one(t).ID
	plan := h.sb.db.table("patient_plan_summary").byOwner[s.PatientID][0].ID
	event := s.CalendarEventID
	p40, p41 := s.PatientIDs[40], s.PatientIDs[41]
	org := s.OrganizationID
	type call struct{ id, method, target, body string }
	calls := []call{
		{"createAction", "POST", "/pub/action", `{"data":{"type":"action","attributes":{"type":"other_lifestyle","title":"Stretch","effective_from":"2026-03-10T00:00:00Z"},"relationships":{` + rel("plan", "patient_plan_summary", plan) + `}}}`},
		{"fetchAction", "GET", "/pub/action/" + first("action"), ""},
		{"updateAction", "PATCH", "/pub/action/" + first("action"), `{"data":{"type":"action","id":"` + first("action") + `","attributes":{"title":"Walk 40 minutes"}}}`},
		{"createBundle", "POST", "/pub/bundle", `{"data":{"type":"bundle","attributes":{"type":"custom","title":"Mobility","effective_from":"2026-03-10T00:00:00Z"},"relationships":{` + rel("plan", "patient_plan_summary", plan) + `}}}`},
		{"fetchBundle", "GET", "/pub/bundle/" + first("bundle"), ""},
		{"updateBundle", "PATCH", "/pub/bundle/" + first("bundle"), `{"data":{"type":"bundle","id":"` + first("bundle") + `","attributes":{"title":"Habits"}}}`},
		{"fetchCalendarEvents", "GET", "/pub/calendar_event?filter[organization]=" + org + "&filter[type]=reminder&filter[completed]=false&include=owner&page[limit]=5", ""},
		{"createCalendarEvent", "POST", "/pub/calendar_event", `{"data":{"type":"calendar_event","attributes":{"type":"video-call","title":"Call","start_at":"2026-04-01T15:00:00Z","end_at":"2026-04-01T15:30:00Z","all_day":false,"attendees":[{"type":"patient","id":"` + s.PatientID + `"}]},"relationships":{` + rel("owner", "patient", s.PatientID) + `}}}`},
		{"fetchCalendarEvent", "GET", "/pub/calendar_event/" + event, ""},
		{"updateCalendarEvent", "PATCH", "/pub/calendar_event/" + event, `{"data":{"type":"calendar_event","id":"` + event + `","attributes":{"title":"Moved"}}}`},
		{"createCalendarEventResponse", "POST", "/pub/calendar_event_response", `{"data":{"type":"calendar_event_response","attributes":{"response_status":"accepted","attendee":{"type":"patient","id":"` + s.PatientID + `"}},"relationships":{` + rel("calendar_event", "calendar_event", event) + `,` + rel("user", "patient", s.PatientID) + `}}}`},
		{"fetchCoach", "GET", "/pub/coach/" + s.CoachIDs[0], ""},
		{"fetchEmailHistories", "GET", "/pub/email_history?filter[receiver]=" + s.PatientID + "&sort=-send_time", ""},
		{"fetchEmailHistory", "GET", "/pub/email_history/" + first("email_history"), ""},
		{"fetchGroups", "GET", "/pub/group?filter[organization]=" + org + "&filter[name]=Heart%20Health", ""},
		{"createGroup", "POST", "/pub/group", `{"data":{"type":"group","attributes":{"name":"Sleep Clinic","bio":"Better sleep"}}}`},
		{"fetchGroup", "GET", "/pub/group/" + s.GroupIDs[0], ""},
		{"fetchHealthProfiles", "GET", "/pub/health_profile?filter[groups]=" + s.GroupIDs[0] + "," + s.GroupIDs[1] + "&include=patient,questions&page[size]=5", ""},
		{"fetchHealthProfile", "GET", "/pub/health_profile/" + first("health_profile") + "?include=questions", ""},
		{"fetchHealthProfileAnswers", "GET", "/pub/health_profile_answer?filter[patient]=" + s.PatientID + "&include=patient&page[size]=100", ""},
		{"fetchHealthProfileAnswer", "GET", "/pub/health_profile_answer/" + first("health_profile_answer") + "?include=patient", ""},
		{"fetchHealthProfileQuestion", "GET", "/pub/health_profile_question/" + first("health_profile_question") + "?include=question_definition,answer", ""},
		{"fetchHealthQuestionDefinitions", "GET", "/pub/health_question_definition", ""},
		{"fetchHealthQuestionDefinition", "GET", "/pub/health_question_definition/" + first("health_question_definition"), ""},
		{"fetchTokenGroups", "GET", "/pub/oauth/token/" + tokenID + "/groups", ""},
		{"fetchTokenOrganization", "GET", "/pub/oauth/token/" + tokenID + "/organization", ""},
		{"fetchOrganization", "GET", "/pub/organization/" + org, ""},
		{"fetchPatients", "GET", "/pub/patient?filter[organization]=" + org + "&filter[identifier][system]=medical-record-number&filter[identifier][value]=MRN-0001&filter[archived]=false&filter[updated_at]=2025-01-01T00:00:00Z..2027-01-01T00:00:00Z&page[number]=1&page[size]=50", ""},
		{"createPatient", "POST", "/pub/patient", `{"data":{"type":"patient","attributes":{"first_name":"Andrew","last_name":"Smith","gender":"male","birth_date":"1980-02-03","identifiers":[{"system":"medical-record-number","value":"MRN-7777"}]},"relationships":{"groups":{"data":[{"type":"group","meta":{"query":{"organization":"` + org + `","name":"Patients Lead"}}}]}}},"meta":{"ignore_duplicates":true}}`},
		{"upsertPatient", "PUT", "/pub/patient", `{"data":{"type":"patient","attributes":{"first_name":"Ada"}},"meta":{"query":{"identifier":{"system":"MyEHR","value":"UP-9"},"groups":["` + s.GroupIDs[1] + `"]}}}`},
		{"fetchPatient", "GET", "/pub/patient/" + s.PatientID, ""},
		{"updatePatient", "PATCH", "/pub/patient/" + s.PatientID, `{"data":{"type":"patient","id":"` + s.PatientID + `","attributes":{"note":"synced"}}}`},
		{"fetchPatientCoaches", "GET", "/pub/patient/" + s.PatientID + "/coaches", ""},
		{"fetchPatientGroups", "GET", "/pub/patient/" + s.PatientID + "/groups", ""},
		{"fetchPatientHealthMetrics", "GET", "/pub/patient_health_metric?filter[patient]=" + s.PatientID + "&page[limit]=3", ""},
		{"createPatientHealthMetric", "POST", "/pub/patient_health_metric", `{"data":[{"type":"patient_health_metric","attributes":{"type":"blood_pressure","systolic":120,"diastolic":80,"unit":"mmHg","occurred_at":"2026-03-09T08:00:00Z","code":{"system":"LOINC","value":"85354-9"}},"relationships":{"patient":{"data":{"type":"patient","meta":{"query":{"identifier":{"system":"medical-record-number","value":"MRN-0001"},"organization":"` + org + `"}}}}}}]}`},
		{"fetchPatientHealthMetric", "GET", "/pub/patient_health_metric/" + first("patient_health_metric"), ""},
		{"fetchPatientPlanSummaries", "GET", "/pub/patient_plan_summary?filter[patient]=" + s.PatientID + "&include=actions,bundles,patient,current_results", ""},
		{"fetchPatientPlanSummary", "GET", "/pub/patient_plan_summary/" + plan + "?include=actions", ""},
		{"updatePatientPlanSummary", "PATCH", "/pub/patient_plan_summary/" + plan, `{"data":{"type":"patient_plan_summary","id":"` + plan + `","attributes":{"time_zone":"Europe/Berlin"}}}`},
		{"fetchRewards", "GET", "/pub/reward?filter[patient]=" + s.PatientID + "&filter[thread]=thread-00", ""},
		{"createRewardProgram", "POST", "/pub/reward_program", `{"data":{"type":"reward_program","attributes":{"name":"Sleep","budget_value":100,"budget_unit":"point","start_at":"2026-03-01T00:00:00Z","end_at":"2026-06-01T00:00:00Z"},"relationships":{` + rel("group", "group", s.GroupIDs[2]) + `}}}`},
		{"fetchRewardProgram", "GET", "/pub/reward_program/" + s.RewardProgramID, ""},
		{"fetchRewardProgramGroup", "GET", "/pub/reward_program/" + s.RewardProgramID + "/group", ""},
		{"fetchRewardPrograms", "GET", "/pub/reward_program?filter[groups]=" + s.GroupIDs[0], ""},
		{"createRewardProgramActivation", "POST", "/pub/reward_program_activation", `{"data":{"type":"reward_program_activation","attributes":{"activated_at":"2026-03-02T00:00:00Z"},"relationships":{` + rel("patient", "patient", p40) + `,` + rel("reward_program", "reward_program", s.RewardProgramID) + `}}}`},
		{"fetchRewardProgramActivations", "GET", "/pub/reward_program_activation?filter[patient]=" + s.PatientID, ""},
		{"fetchRewardProgramActivation", "GET", "/pub/reward_program_activation/" + first("reward_program_activation"), ""},
		{"createReward", "POST", "/pub/reward", `{"data":{"type":"reward","attributes":{"description":"Sleep 7h","allocated_at":"2026-03-02T00:00:00Z","allocated_value":5},"relationships":{` + rel("patient", "patient", p41) + `}}}`},
		{"fetchReward", "GET", "/pub/reward/" + first("reward"), ""},
		{"fetchRewardEarnings", "GET", "/pub/reward_earning?filter[groups]=" + s.GroupIDs[0] + "&filter[patient]=" + s.PatientID + "&filter[ready_for_fulfillment]=true", ""},
		{"fetchRewardEarning", "GET", "/pub/reward_earning/" + first("reward_earning"), ""},
		{"fetchRewardEarningFulfillments", "GET", "/pub/reward_earning_fulfillment?filter[patient]=" + s.PatientID, ""},
		{"fetchRewardEarningFulfillment", "GET", "/pub/reward_earning_fulfillment/" + first("reward_earning_fulfillment"), ""},
	}
	// Earnings of rewards that have none yet (the seed earns the first reward of each activation).
	var free []string
	for _, r := range h.sb.db.table("reward").order {
		if _, earned := r.Attrs["earned_at"]; !earned {
			free = append(free, r.ID)
		}
	}
	calls = append(calls,
		call{"createRewardEarning", "POST", "/pub/reward_earning", `{"data":[{"type":"reward_earning","attributes":{"earned_at":"2026-03-05T00:00:00Z","earned_value":5,"ready_for_fulfillment":true},"relationships":{` + rel("reward", "reward", free[0]) + `}},{"type":"reward_earning","attributes":{"earned_at":"2026-03-05T00:00:00Z","earned_value":5},"relationships":{` + rel("reward", "reward", free[1]) + `}}]}`},
	)
	var unfulfilled string
	for _, e := range h.sb.db.table("reward_earning").order {
		if _, done := e.Attrs["fulfilled_at"]; !done {
			unfulfilled = e.ID
			break
		}
	}
	calls = append(calls,
		call{"createRewardEarningFulfillment", "POST", "/pub/reward_earning_fulfillment", `{"data":{"type":"reward_earning_fulfillment","attributes":{"fulfilled_at":"2026-03-06T00:00:00Z","fulfilled_value":5,"fulfilled_unit":"point"},"relationships":{` + rel("reward_earning", "reward_earning", unfulfilled) + `}}}`},
		call{"deleteCalendarEvent", "DELETE", "/pub/calendar_event/" + event, ""},
	)
	covered := map[string]bool{"createToken": true}
	for _, c := range calls {
		covered[c.id] = true
		var a *answer
		if c.body == "" {
			a = h.do(c.method, c.target, "", "", "Authorization", "Bearer "+h.token)
		} else {
			a = h.send(c.method, c.target, c.body)
		}
		if a.Status < 200 || a.Status > 299 {
			t.Errorf("%s: %d %s", c.id, a.Status, a.Raw)
		}
	}
	for _, op := range operations() {
		if !covered[op.ID] {
			t.Errorf("operation %s not exercised", op.ID)
		}
	}
}

// TestSpecRejectsInvalidRequests checks the 409 mapping with the real spec.
func TestSpecRejectsInvalidRequests(t *testing.T) {
	requireSpec(t)
	h := newHarness(t, Options{Spec: connector.SwaggerJSON})
	s := h.sb.Seeded()
	src := expectError(t, h.get("/pub/patient?filter[organization]="+s.OrganizationID+"&filter[archived]=sometimes"), http.StatusConflict, CodeInvalidParameter)
	if src["parameter"] != "filter[archived]" {
		t.Errorf("source %v", src)
	}
	src = expectError(t, h.get("/pub/patient_health_metric"), http.StatusConflict, CodeInvalidParameter)
	if src["parameter"] != "filter[patient]" {
		t.Errorf("source %v", src)
	}
	a := h.send("POST", "/pub/patient_health_metric", `{"data":{"type":"patient_health_metric","attributes":{"type":"mood"},"relationships":{`+rel("patient", "patient", s.PatientID)+`}}}`)
	src = expectError(t, a, http.StatusConflict, CodeInvalidBodyParameter)
	if src["pointer"] != "/data/attributes/type" {
		t.Errorf("source %v: %s", src, a.Raw)
	}
	ok := h.do("POST", "/pub/group", MediaType+"; charset=utf-8", `{"data":{"type":"group","attributes":{"name":"Charset"}}}`, "Authorization", "Bearer "+h.token)
	expectStatus(t, ok, http.StatusCreated)
	src = expectError(t, h.send("POST", "/pub/group", `{"data":{"type":"group","attributes":{"bio":"no name"}}}`), http.StatusConflict, CodeInvalidBodyParameter)
	if src["pointer"] != "/data/attributes/name" {
		t.Errorf("source %v", src)
	}
}

// TestRejectsWhatTheUpstreamRejects: the request members the upstream spec
// requires, and swagger.json with it, are refused when missing, with the
// API's error document pointing at the member.
func TestRejectsWhatTheUpstreamRejects(t *testing.T) {
	requireSpec(t)
	h := newHarness(t, Options{Spec: connector.SwaggerJSON})
	s := h.sb.Seeded()
	event := s.CalendarEventID
	cases := []struct{ name, method, target, body, pointer string }{
		{"PATCH without data.id", "PATCH", "/pub/calendar_event/" + event,
			`{"data":{"type":"calendar_event","attributes":{"title":"Moved"}}}`, "/data/id"},
		{"patient without attributes", "POST", "/pub/patient", `{"data":{"type":"patient"}}`, "/data/attributes"},
		{"patient update without attributes", "PATCH", "/pub/patient/" + s.PatientID,
			`{"data":{"type":"patient","id":"` + s.PatientID + `"}}`, "/data/attributes"},
		{"calendar event without relationships", "POST", "/pub/calendar_event",
			`{"data":{"type":"calendar_event","attributes":{"type":"reminder","title":"T","start_at":"2026-04-01T15:00:00Z","attendees":[]}}}`, "/data/relationships"},
		{"calendar event without attendees", "POST", "/pub/calendar_event",
			`{"data":{"type":"calendar_event","attributes":{"type":"reminder","title":"T","start_at":"2026-04-01T15:00:00Z"},"relationships":{}}}`, "/data/attributes/attendees"},
		{"calendar event response without response status", "POST", "/pub/calendar_event_response",
			`{"data":{"type":"calendar_event_response","attributes":{"attendee":{}},"relationships":{}}}`, "/data/attributes/response_status"},
		{"upsert without the lookup", "PUT", "/pub/patient", `{"data":{"type":"patient","attributes":{"first_name":"Ada"}}}`, "/meta"},
		{"upsert lookup without groups", "PUT", "/pub/patient",
			`{"data":{"type":"patient","attributes":{}},"meta":{"query":{"identifier":{"system":"MyEHR","value":"1"}}}}`, "/meta/query/groups"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := expectError(t, h.send(c.method, c.target, c.body), http.StatusConflict, CodeInvalidBodyParameter)
			if src["pointer"] != c.pointer {
				t.Errorf("pointer %q, want %q", src["pointer"], c.pointer)
			}
		})
	}
}

// TestUpsertFindsThePatientInTheLookupGroups: meta.query.groups says where to
// look for the patient and where to create it.
func TestUpsertFindsThePatientInTheLookupGroups(t *testing.T) {
	requireSpec(t)
	h := newHarness(t, Options{Spec: connector.SwaggerJSON})
	group := h.sb.Seeded().GroupIDs[1]
	body := func(name string) string {
		return `{"data":{"type":"patient","attributes":{"first_name":"` + name + `"}},` +
			`"meta":{"query":{"identifier":{"system":"MyEHR","value":"UP-77"},"groups":["` + group + `"]}}}`
	}
	created := h.send("PUT", "/pub/patient", body("Ada"))
	expectStatus(t, created, http.StatusOK)
	p := created.one(t)
	if rel := fmt.Sprintf("%s", p.Relationships["groups"]); !strings.Contains(rel, group) {
		t.Errorf("created outside the lookup's group: %s", rel)
	}
	updated := h.send("PUT", "/pub/patient", body("Ada B."))
	expectStatus(t, updated, http.StatusOK)
	if u := updated.one(t); u.ID != p.ID || u.Attributes["first_name"] != "Ada B." {
		t.Errorf("second upsert: id %s (first %s), first_name %v", u.ID, p.ID, u.Attributes["first_name"])
	}
	src := expectError(t, h.send("PUT", "/pub/patient", strings.Replace(body("X"), group, "nope", 1)), http.StatusNotFound, "ResourceNotFound")
	if src["pointer"] != "/meta/query/groups/0" {
		t.Errorf("unknown group: source %v", src)
	}
}
