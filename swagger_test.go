package connector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	connector "github.com/fitbitplus/connector"
)

// specOp is one operation of the API as its documentation lists it (58 in all).
type specOp struct {
	id, method, path string
	status           int // the documented 2xx status
}

var specOps = []specOp{
	{"createAction", "POST", "/action", 201},
	{"fetchAction", "GET", "/action/{id}", 200},
	{"updateAction", "PATCH", "/action/{id}", 200},
	{"createBundle", "POST", "/bundle", 200},
	{"fetchBundle", "GET", "/bundle/{id}", 200},
	{"updateBundle", "PATCH", "/bundle/{id}", 200},
	{"fetchCalendarEvents", "GET", "/calendar_event", 200},
	{"createCalendarEvent", "POST", "/calendar_event", 201},
	{"deleteCalendarEvent", "DELETE", "/calendar_event/{id}", 200},
	{"fetchCalendarEvent", "GET", "/calendar_event/{id}", 200},
	{"updateCalendarEvent", "PATCH", "/calendar_event/{id}", 200},
	{"createCalendarEventResponse", "POST", "/calendar_event_response", 201},
	{"fetchCoach", "GET", "/coach/{id}", 200},
	{"fetchEmailHistories", "GET", "/email_history", 200},
	{"fetchEmailHistory", "GET", "/email_history/{id}", 200},
	{"fetchGroups", "GET", "/group", 200},
	{"createGroup", "POST", "/group", 201},
	{"fetchGroup", "GET", "/group/{id}", 200},
	{"fetchHealthProfiles", "GET", "/health_profile", 200},
	{"fetchHealthProfile", "GET", "/health_profile/{id}", 200},
	{"fetchHealthProfileAnswers", "GET", "/health_profile_answer", 200},
	{"fetchHealthProfileAnswer", "GET", "/health_profile_answer/{id}", 200},
	{"fetchHealthProfileQuestion", "GET", "/health_profile_question/{id}", 200},
	{"fetchHealthQuestionDefinitions", "GET", "/health_question_definition", 200},
	{"fetchHealthQuestionDefinition", "GET", "/health_question_definition/{id}", 200},
	{"createToken", "POST", "/oauth/token", 201},
	{"fetchTokenGroups", "GET", "/oauth/token/{id}/groups", 200},
	{"fetchTokenOrganization", "GET", "/oauth/token/{id}/organization", 200},
	{"fetchOrganization", "GET", "/organization/{id}", 200},
	{"fetchPatients", "GET", "/patient", 200},
	{"createPatient", "POST", "/patient", 201},
	{"upsertPatient", "PUT", "/patient", 200},
	{"fetchPatient", "GET", "/patient/{id}", 200},
	{"updatePatient", "PATCH", "/patient/{id}", 200},
	{"fetchPatientCoaches", "GET", "/patient/{id}/coaches", 200},
	{"fetchPatientGroups", "GET", "/patient/{id}/groups", 200},
	{"fetchPatientHealthMetrics", "GET", "/patient_health_metric", 200},
	{"createPatientHealthMetric", "POST", "/patient_health_metric", 200},
	{"fetchPatientHealthMetric", "GET", "/patient_health_metric/{id}", 200},
	{"fetchPatientPlanSummaries", "GET", "/patient_plan_summary", 200},
	{"fetchPatientPlanSummary", "GET", "/patient_plan_summary/{id}", 200},
	{"updatePatientPlanSummary", "PATCH", "/patient_plan_summary/{id}", 200},
	{"fetchRewards", "GET", "/reward", 200},
	{"createReward", "POST", "/reward", 200},
	{"fetchReward", "GET", "/reward/{id}", 200},
	{"fetchRewardEarnings", "GET", "/reward_earning", 200},
	{"createRewardEarning", "POST", "/reward_earning", 200},
	{"fetchRewardEarning", "GET", "/reward_earning/{id}", 200},
	{"fetchRewardEarningFulfillments", "GET", "/reward_earning_fulfillment", 200},
	{"createRewardEarningFulfillment", "POST", "/reward_earning_fulfillment", 200},
	{"fetchRewardEarningFulfillment", "GET", "/reward_earning_fulfillment/{id}", 200},
	{"fetchRewardPrograms", "GET", "/reward_program", 200},
	{"createRewardProgram", "POST", "/reward_program", 200},
	{"fetchRewardProgram", "GET", "/reward_program/{id}", 200},
	{"fetchRewardProgramGroup", "GET", "/reward_program/{id}/group", 200},
	{"fetchRewardProgramActivations", "GET", "/reward_program_activation", 200},
	{"createRewardProgramActivation", "POST", "/reward_program_activation", 200},
	{"fetchRewardProgramActivation", "GET", "/reward_program_activation/{id}", 200},
}

// pagedOps maps the paged list operations to their page[size] maximum.
var pagedOps = map[string]float64{
	"fetchCalendarEvents":       50,
	"fetchHealthProfiles":       50,
	"fetchHealthProfileAnswers": 100,
	"fetchPatients":             50,
	"fetchPatientHealthMetrics": 50,
}

// includeEnums lists the allowed `include` values per operation.
var includeEnums = map[string][]string{
	"fetchCalendarEvents":        {"owner"},
	"fetchHealthProfiles":        {"patient", "questions"},
	"fetchHealthProfile":         {"patient", "questions"},
	"fetchHealthProfileAnswers":  {"patient"},
	"fetchHealthProfileAnswer":   {"patient"},
	"fetchHealthProfileQuestion": {"question_definition", "answer"},
	"createToken":                {"groups", "organization"},
	"fetchPatientPlanSummaries":  {"actions", "bundles", "patient", "current_results"},
	"fetchPatientPlanSummary":    {"actions", "bundles", "patient", "current_results"},
}

const serverURL = "https://api.twinehealth.com/pub"

type v2op struct {
	method, path string
	op           *openapi2.Operation
}

func loadV2(t *testing.T) *openapi2.T {
	t.Helper()
	var doc openapi2.T
	if err := json.Unmarshal(connector.SwaggerJSON, &doc); err != nil {
		t.Fatalf("unmarshal swagger.json: %v", err)
	}
	return &doc
}

func loadV3(t *testing.T) *openapi3.T {
	t.Helper()
	doc3, err := openapi2conv.ToV3(loadV2(t))
	if err != nil {
		t.Fatalf("convert to openapi 3: %v", err)
	}
	if err := doc3.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return doc3
}

// v2ops returns the operations of the swagger document keyed by operationId.
func v2ops(t *testing.T, doc *openapi2.T) map[string]v2op {
	t.Helper()
	out := map[string]v2op{}
	for path, item := range doc.Paths {
		for method, op := range item.Operations() {
			if _, dup := out[op.OperationID]; dup {
				t.Errorf("duplicate operationId %s", op.OperationID)
			}
			out[op.OperationID] = v2op{method: method, path: path, op: op}
		}
	}
	return out
}

func TestSwaggerHeader(t *testing.T) {
	doc := loadV2(t)
	if doc.Swagger != "2.0" || doc.Info.Title != "Fitbit Plus API" || doc.Info.Version != "7.78.1" || doc.Info.Description == "" {
		t.Errorf("swagger/info = %q %q %q", doc.Swagger, doc.Info.Title, doc.Info.Version)
	}
	if doc.Host != "api.twinehealth.com" || doc.BasePath != "/pub" || !slices.Equal(doc.Schemes, []string{"https"}) {
		t.Errorf("host/basePath/schemes = %q %q %v", doc.Host, doc.BasePath, doc.Schemes)
	}
	want := []string{"application/vnd.api+json"}
	if !slices.Equal(doc.Consumes, want) || !slices.Equal(doc.Produces, want) {
		t.Errorf("consumes/produces = %v %v", doc.Consumes, doc.Produces)
	}
	tags := map[string]bool{}
	for _, tag := range doc.Tags {
		tags[tag.Name] = true
	}
	for id, o := range v2ops(t, doc) {
		if o.op.Summary == "" || o.op.Description == "" || len(o.op.Tags) == 0 {
			t.Errorf("%s: summary, description and tags are required", id)
		}
		for _, tag := range o.op.Tags {
			if !tags[tag] {
				t.Errorf("%s: tag %q is not declared", id, tag)
			}
		}
	}
	v3 := loadV3(t)
	if len(v3.Servers) != 1 || v3.Servers[0].URL != serverURL {
		t.Errorf("servers after conversion = %v", v3.Servers)
	}
}

func TestSwaggerOperationsMatchTable(t *testing.T) {
	ops := v2ops(t, loadV2(t))
	if len(ops) != len(specOps) || len(specOps) != 58 {
		t.Errorf("spec has %d operations, table %d, want 58", len(ops), len(specOps))
	}
	for _, want := range specOps {
		got, ok := ops[want.id]
		if !ok {
			t.Errorf("%s: missing", want.id)
			continue
		}
		if got.method != want.method || got.path != want.path {
			t.Errorf("%s: %s %s, want %s %s", want.id, got.method, got.path, want.method, want.path)
		}
	}
}

func TestSwaggerSecurity(t *testing.T) {
	doc := loadV2(t)
	scheme := doc.SecurityDefinitions["OAuth2"]
	if scheme == nil || scheme.Type != "oauth2" || scheme.Flow != "application" ||
		scheme.TokenURL != serverURL+"/oauth/token" {
		t.Fatalf("securityDefinitions.OAuth2 = %+v", scheme)
	}
	for _, scope := range []string{"group", "organization"} {
		if scheme.Scopes[scope] == "" {
			t.Errorf("scope %q missing or undescribed", scope)
		}
	}
	if len(doc.Security) != 1 || !slices.Equal(sorted(doc.Security[0]["OAuth2"]), []string{"group", "organization"}) {
		t.Errorf("root security = %v", doc.Security)
	}
	for id, o := range v2ops(t, doc) {
		switch {
		case id == "createToken":
			if o.op.Security == nil || len(*o.op.Security) != 0 {
				t.Errorf("createToken must declare security: []")
			}
			if !slices.Equal(o.op.Consumes, []string{"application/vnd.api+json", "application/json"}) {
				t.Errorf("createToken consumes = %v", o.op.Consumes)
			}
		case o.op.Security != nil:
			t.Errorf("%s overrides the root security", id)
		}
	}
	// After conversion the token operation stays exempt and the others inherit OAuth2.
	v3 := loadV3(t)
	if sec := v3.Paths.Find("/oauth/token").Post.Security; sec == nil || len(*sec) != 0 {
		t.Errorf("converted createToken security = %v", sec)
	}
	if len(v3.Security) != 1 {
		t.Errorf("converted root security = %v", v3.Security)
	}
}

func TestSwaggerParametersTypedAndDescribed(t *testing.T) {
	for id, o := range v2ops(t, loadV2(t)) {
		bodies := 0
		for _, p := range o.op.Parameters {
			switch p.In {
			case "body":
				bodies++
				if p.Schema == nil || !strings.HasPrefix(p.Schema.Ref, "#/definitions/") {
					t.Errorf("%s: body parameter without a definition", id)
				}
			case "path", "query":
				if p.Type == nil || len(p.Type.Slice()) != 1 {
					t.Errorf("%s: %s has no type", id, p.Name)
				} else if typ := p.Type.Slice()[0]; !slices.Contains([]string{"string", "boolean", "integer", "array"}, typ) {
					t.Errorf("%s: %s has type %s", id, p.Name, typ)
				}
				if strings.TrimSpace(p.Description) == "" {
					t.Errorf("%s: %s has no description", id, p.Name)
				}
				if p.In == "path" && (p.Name != "id" || !p.Required || !p.Type.Is("string")) {
					t.Errorf("%s: path parameter %s must be the required string id", id, p.Name)
				}
				if p.Default != nil {
					t.Errorf("%s: %s has a default", id, p.Name)
				}
			default:
				t.Errorf("%s: unexpected parameter location %s", id, p.In)
			}
		}
		if strings.Contains(o.path, "{id}") != hasParam(o.op, "id") {
			t.Errorf("%s: path %s and its id parameter disagree", id, o.path)
		}
		if write := o.method == "POST" || o.method == "PUT" || o.method == "PATCH"; write != (bodies == 1) {
			t.Errorf("%s: %d body parameters for %s", id, bodies, o.method)
		}
	}
}

func TestSwaggerPagedLists(t *testing.T) {
	ops := v2ops(t, loadV2(t))
	paging := []string{"page[number]", "page[size]", "page[limit]", "page[cursor]"}
	for id, o := range ops {
		maxSize, paged := pagedOps[id]
		for _, name := range paging {
			p := param(o.op, name)
			if !paged {
				if p != nil {
					t.Errorf("%s: unexpected paging parameter %s", id, name)
				}
				continue
			}
			if p == nil {
				t.Errorf("%s: missing %s", id, name)
				continue
			}
			if p.Default != nil || p.Required {
				t.Errorf("%s: %s must be optional without a default", id, name)
			}
			if !strings.Contains(p.Description, "must not be mixed") {
				t.Errorf("%s: %s does not say the paging styles must not be mixed", id, name)
			}
			switch name {
			case "page[number]":
				checkInt(t, id, p, ptr(1), nil)
			case "page[size]":
				checkInt(t, id, p, ptr(0), &maxSize)
			case "page[limit]":
				checkInt(t, id, p, ptr(0), nil)
			case "page[cursor]":
				if !p.Type.Is("string") {
					t.Errorf("%s: page[cursor] must be a string", id)
				}
			}
		}
	}
}

func TestSwaggerIncludeIsCSVArray(t *testing.T) {
	ops := v2ops(t, loadV2(t))
	for id, o := range ops {
		p := param(o.op, "include")
		want, ok := includeEnums[id]
		if !ok {
			if p != nil {
				t.Errorf("%s: unexpected include parameter", id)
			}
			continue
		}
		if p == nil {
			t.Errorf("%s: missing include", id)
			continue
		}
		if !p.Type.Is("array") || p.CollectionFormat != "csv" || p.Items == nil || p.Items.Value == nil ||
			!p.Items.Value.Type.Is("string") {
			t.Errorf("%s: include must be a csv array of strings", id)
			continue
		}
		var got []string
		for _, v := range p.Items.Value.Enum {
			got = append(got, v.(string))
		}
		if !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("%s: include enum %v, want %v", id, got, want)
		}
	}
}

func TestSwaggerSuccessResponses(t *testing.T) {
	doc := loadV3(t)
	for _, want := range specOps {
		op := doc.Paths.Find(want.path).GetOperation(want.method)
		var codes []int
		for code := range op.Responses.Map() {
			if n, err := strconv.Atoi(code); err == nil && n >= 200 && n < 300 {
				codes = append(codes, n)
			}
		}
		if !slices.Equal(codes, []int{want.status}) {
			t.Errorf("%s: 2xx responses %v, want [%d]", want.id, codes, want.status)
			continue
		}
		resp := op.Responses.Status(want.status).Value
		mt := resp.Content.Get("application/vnd.api+json")
		if want.id == "deleteCalendarEvent" { // documented: 200 without a body
			if mt != nil && mt.Schema != nil {
				t.Errorf("deleteCalendarEvent: 200 must have no body")
			}
			continue
		}
		if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
			t.Errorf("%s: %d response has no schema", want.id, want.status)
			continue
		}
		data := mt.Schema.Value.Properties["data"]
		if data == nil || !slices.Contains(mt.Schema.Value.Required, "data") {
			t.Errorf("%s: response document needs a required data member", want.id)
		}
	}
}

func TestSwaggerErrorResponses(t *testing.T) {
	doc := loadV3(t)
	for _, want := range specOps {
		op := doc.Paths.Find(want.path).GetOperation(want.method)
		for _, status := range []int{401, 403, 404, 409, 429, 500} {
			ref := op.Responses.Status(status)
			if ref == nil || ref.Value == nil {
				t.Errorf("%s: no %d response", want.id, status)
				continue
			}
			mt := ref.Value.Content.Get("application/vnd.api+json")
			if mt == nil || mt.Schema == nil {
				t.Errorf("%s: %d has no schema", want.id, status)
				continue
			}
			errs := mt.Schema.Value.Properties["errors"]
			if errs == nil || !errs.Value.Type.Is("array") || errs.Value.Items == nil {
				t.Errorf("%s: %d errors must be an array", want.id, status)
				continue
			}
			code := errs.Value.Items.Value.Properties["code"]
			if code == nil || len(code.Value.Enum) != 7 {
				t.Errorf("%s: %d error code must enumerate the 7 codes", want.id, status)
			}
		}
		if d := op.Responses.Status(409).Value.Description; d == nil || !strings.HasPrefix(*d, "Invalid Request") {
			t.Errorf("%s: 409 must be described as Invalid Request", want.id)
		}
	}
}

func TestSwaggerDateTimes(t *testing.T) {
	if bytes.Contains(connector.SwaggerJSON, []byte(`"dateTime"`)) {
		t.Errorf("format dateTime left in swagger.json")
	}
	doc := loadV3(t)
	for name, s := range doc.Components.Schemas {
		for prop, p := range s.Value.Properties {
			v := p.Value
			if !v.Type.Is("string") {
				continue
			}
			isTime := strings.HasSuffix(prop, "_at") || prop == "send_time" || strings.HasPrefix(prop, "effective_")
			switch {
			case isTime && v.Format != "date-time":
				t.Errorf("%s.%s: format %q, want date-time", name, prop, v.Format)
			case prop == "birth_date" && v.Format != "date":
				t.Errorf("%s.%s: format %q, want date", name, prop, v.Format)
			}
		}
	}
	// Server-kept attributes are read-only.
	for _, c := range []struct{ schema, prop string }{
		{"PatientAttributes", "first_access_at"},
		{"PatientAttributes", "updated_at"},
		{"PatientAttributes", "created_at"},
		{"CalendarEventAttributes", "updated_at"},
		{"PatientResource", "id"},
	} {
		p := doc.Components.Schemas[c.schema].Value.Properties[c.prop]
		if p == nil || !p.Value.ReadOnly {
			t.Errorf("%s.%s must be readOnly", c.schema, c.prop)
		}
	}
}

func TestSwaggerFormatting(t *testing.T) {
	var compact, indented bytes.Buffer
	if err := json.Compact(&compact, connector.SwaggerJSON); err != nil {
		t.Fatal(err)
	}
	if err := json.Indent(&indented, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')
	if !bytes.Equal(indented.Bytes(), connector.SwaggerJSON) {
		t.Errorf("swagger.json is not 2-space indented JSON with a trailing newline")
	}
	names := topLevelKeys(t, "definitions")
	if !sort.StringsAreSorted(names) || len(names) == 0 {
		t.Errorf("definitions are not sorted by name")
	}
	for _, ref := range refs(connector.SwaggerJSON) {
		if !strings.HasPrefix(ref, "#/") {
			t.Errorf("external $ref %s", ref)
		}
	}
}

// requestCase is a request body that the spec must accept (ok) or reject.
type requestCase struct {
	name, method, path, contentType, body string
	ok                                    bool
}

const metric = `{"type":"patient_health_metric","attributes":{"type":"weight","value":81.5,"unit":"kg",` +
	`"occurred_at":"2024-03-01T08:00:00Z"},"relationships":{"patient":{"data":{"type":"patient","id":"p1"}}}}`

const metricByQuery = `{"type":"patient_health_metric","attributes":{"code":{"system":"LOINC","value":"13457-7"},` +
	`"type":"ldl_cholesterol","occurred_at":"2017-03-14T11:00:57.000Z","value":121,"unit":"mg/dl"},` +
	`"relationships":{"patient":{"data":{"type":"patient","meta":{"query":{"identifier":` +
	`{"system":"medical-record-number","value":"121212"},"organization":"58c4554710123c5c40dbab81"}}}}}}`

const earning = `{"type":"reward_earning","attributes":{"earned_at":"2024-03-01T08:00:00Z","earned_value":5},` +
	`"relationships":{"reward":{"data":{"type":"reward","id":"r1"}}}}`

func TestSwaggerRequestBodies(t *testing.T) {
	const vnd = "application/vnd.api+json"
	cases := []requestCase{
		{"metric single", "POST", "/patient_health_metric", vnd, `{"data":` + metric + `}`, true},
		{"metric meta.query", "POST", "/patient_health_metric", vnd, `{"data":` + metricByQuery + `}`, true},
		{"metric array", "POST", "/patient_health_metric", vnd, `{"data":[` + metric + `,` + metricByQuery + `]}`, true},
		{"metric empty array", "POST", "/patient_health_metric", vnd, `{"data":[]}`, false},
		{"metric item without type", "POST", "/patient_health_metric", vnd,
			`{"data":[` + metric + `,{"attributes":{"type":"weight"}}]}`, false},
		{"metric unknown type", "POST", "/patient_health_metric", vnd,
			`{"data":{"type":"patient_health_metric","attributes":{"type":"mood"}}}`, false},
		{"metric wrong resource type", "POST", "/patient_health_metric", vnd, `{"data":[{"type":"patient"}]}`, false},
		{"earning single", "POST", "/reward_earning", vnd, `{"data":` + earning + `}`, true},
		{"earning array", "POST", "/reward_earning", vnd, `{"data":[` + earning + `,` + earning + `]}`, true},
		{"earning missing required attribute", "POST", "/reward_earning", vnd,
			`{"data":[{"type":"reward_earning","attributes":{"earned_value":5}}]}`, false},
		{"token json:api", "POST", "/oauth/token", vnd,
			`{"data":{"type":"token","attributes":{"grant_type":"client_credentials","client_id":"a","client_secret":"b"}}}`, true},
		{"token flat json", "POST", "/oauth/token", "application/json",
			`{"grant_type":"refresh_token","client_id":"a","refresh_token":"c"}`, true},
		{"token bad grant", "POST", "/oauth/token", vnd,
			`{"data":{"type":"token","attributes":{"grant_type":"password"}}}`, false},
		{"patient with group query", "POST", "/patient", vnd,
			`{"data":{"type":"patient","attributes":{"first_name":"Andrew","last_name":"Smith"},"relationships":` +
				`{"groups":{"data":[{"type":"group","meta":{"query":{"organization":"o1","name":"Patients Lead"}}}]}}}}`, true},
		{"patient read-only attribute", "POST", "/patient", vnd,
			`{"data":{"type":"patient","attributes":{"first_name":"A","first_access_at":"2024-01-01T00:00:00Z"}}}`, false},
		{"upsert by identifier", "PUT", "/patient", vnd,
			`{"data":{"type":"patient","attributes":{"first_name":"A"}},"meta":{"query":{"identifier":{"system":"mrn","value":"1"},"groups":["g1"]}}}`, true},
		{"upsert without the lookup", "PUT", "/patient", vnd, `{"data":{"type":"patient","attributes":{"first_name":"A"}}}`, false},
		{"upsert lookup without groups", "PUT", "/patient", vnd,
			`{"data":{"type":"patient","attributes":{}},"meta":{"query":{"identifier":{"system":"mrn","value":"1"}}}}`, false},
		{"patient without attributes", "POST", "/patient", vnd, `{"data":{"type":"patient"}}`, false},
		{"patient update without attributes", "PATCH", "/patient/p1", vnd, `{"data":{"type":"patient","id":"p1"}}`, false},
		{"update without data.id", "PATCH", "/action/a1", vnd, `{"data":{"type":"action","attributes":{"title":"Walk"}}}`, false},
		{"calendar event", "POST", "/calendar_event", vnd, `{"data":{"type":"calendar_event","attributes":{"type":"reminder",` +
			`"title":"T","start_at":"2026-04-01T15:00:00Z","attendees":[{"type":"patient","id":"p1"}]},"relationships":{}}}`, true},
		{"calendar event without title", "POST", "/calendar_event", vnd, `{"data":{"type":"calendar_event","attributes":{"type":"reminder",` +
			`"start_at":"2026-04-01T15:00:00Z","attendees":[]},"relationships":{}}}`, false},
		{"calendar event without relationships", "POST", "/calendar_event", vnd, `{"data":{"type":"calendar_event","attributes":{"type":"reminder",` +
			`"title":"T","start_at":"2026-04-01T15:00:00Z","attendees":[]}}}`, false},
		{"calendar event response without attendee", "POST", "/calendar_event_response", vnd,
			`{"data":{"type":"calendar_event_response","attributes":{"response_status":"accepted"},"relationships":{}}}`, false},
		{"partial action update", "PATCH", "/action/a1", vnd, `{"data":{"type":"action","id":"a1","attributes":{"title":"Walk"}}}`, true},
		{"calendar event completion cleared", "PATCH", "/calendar_event/e1", vnd,
			`{"data":{"type":"calendar_event","id":"e1","attributes":{"completed_at":null,"completed_by":null}}}`, true},
	}
	router := newRouter(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := validateRequest(t, router, c)
			if c.ok && err != nil {
				t.Errorf("rejected: %v", err)
			}
			if !c.ok && err == nil {
				t.Errorf("accepted")
			}
			if err != nil {
				t.Logf("rejected: %.200s", firstLine(err))
			}
		})
	}
}

func TestSwaggerQueryParameters(t *testing.T) {
	router := newRouter(t)
	cases := []requestCase{
		{name: "include csv", method: "GET", path: "/patient_plan_summary?filter[patient]=p1&include=actions,current_results", ok: true},
		{name: "include unknown", method: "GET", path: "/patient_plan_summary?filter[patient]=p1&include=coach", ok: false},
		{name: "cursor page", method: "GET", path: "/patient_health_metric?filter[patient]=p1&page[limit]=50&page[cursor]=abc", ok: true},
		{name: "page size too big", method: "GET", path: "/patient?filter[organization]=o1&page[size]=51", ok: false},
		{name: "answers page size 100", method: "GET", path: "/health_profile_answer?filter[patient]=p1&page[size]=100", ok: true},
		{name: "missing required filter", method: "GET", path: "/patient_health_metric", ok: false},
		{name: "boolean filter", method: "GET", path: "/patient?filter[organization]=o1&filter[archived]=maybe", ok: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := validateRequest(t, router, c)
			if c.ok != (err == nil) {
				t.Errorf("ok=%v, got err %v", c.ok, err)
			}
			if err != nil {
				t.Logf("rejected: %.200s", firstLine(err))
			}
		})
	}
}

func TestSwaggerResponseBodies(t *testing.T) {
	router := newRouter(t)
	single := `{"data":{"type":"patient_health_metric","id":"m1","attributes":{"type":"weight","value":80}},"meta":{"req_id":"r"}}`
	list := `{"data":[{"type":"patient_health_metric","id":"m1"}],"meta":{"count":1}}`
	errDoc := `{"errors":[{"status":"409","code":"InvalidParameter","title":"Invalid","source":{"parameter":"filter[patient]"}}],"meta":{"req_id":"r"}}`
	cases := []struct {
		name, path string
		status     int
		body       string
		ok         bool
	}{
		{"single metric", "/patient_health_metric/m1", 200, single, true},
		{"single metric as list", "/patient_health_metric/m1", 200, list, false},
		{"metric list", "/patient_health_metric?filter[patient]=p1", 200, list, true},
		{"error document", "/patient_health_metric/m1", 409, errDoc, true},
		{"errors as object", "/patient_health_metric/m1", 409, `{"errors":{"code":"Forbidden"}}`, false},
		{"reward program group", "/reward_program/r1/group", 200, `{"data":{"type":"group","id":"g1","attributes":{"name":"G"}}}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, serverURL+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("find route: %v", err)
			}
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
				Status:                 c.status,
				Header:                 http.Header{"Content-Type": {"application/vnd.api+json"}},
			}
			in.SetBodyBytes([]byte(c.body))
			err = openapi3filter.ValidateResponse(context.Background(), in)
			if c.ok != (err == nil) {
				t.Errorf("ok=%v, got err %v", c.ok, err)
			}
			if err != nil {
				t.Logf("rejected: %.200s", firstLine(err))
			}
		})
	}
}

func firstLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}

func newRouter(t *testing.T) routers.Router {
	t.Helper()
	router, err := gorillamux.NewRouter(loadV3(t))
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	return router
}

func validateRequest(t *testing.T, router routers.Router, c requestCase) error {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, serverURL+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("find route %s %s: %v", c.method, c.path, err)
	}
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	})
}

func param(op *openapi2.Operation, name string) *openapi2.Parameter {
	for _, p := range op.Parameters {
		if p.Name == name && p.In != "body" {
			return p
		}
	}
	return nil
}

func hasParam(op *openapi2.Operation, name string) bool { return param(op, name) != nil }

func checkInt(t *testing.T, id string, p *openapi2.Parameter, lo, hi *float64) {
	t.Helper()
	if !p.Type.Is("integer") {
		t.Errorf("%s: %s must be an integer", id, p.Name)
	}
	if !sameBound(p.Minimum, lo) || !sameBound(p.Maximum, hi) {
		t.Errorf("%s: %s bounds [%v, %v], want [%v, %v]", id, p.Name, deref(p.Minimum), deref(p.Maximum), deref(lo), deref(hi))
	}
}

func sameBound(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func deref(f *float64) any {
	if f == nil {
		return "none"
	}
	return *f
}

func ptr(f float64) *float64 { return &f }

func sorted(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return out
}

// topLevelKeys returns the member names of a top-level object of swagger.json in file order.
func topLevelKeys(t *testing.T, member string) []string {
	t.Helper()
	var root map[string]json.RawMessage
	if err := json.Unmarshal(connector.SwaggerJSON, &root); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(root[member]))
	var keys []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if depth == 1 {
				keys = append(keys, v)
				// skip the member's value
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return keys
}

// refs returns every $ref value of a JSON document.
func refs(doc []byte) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var root any
	if json.Unmarshal(doc, &root) == nil {
		walk(root)
	}
	return out
}
