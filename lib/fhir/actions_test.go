package fhir

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
)

// recorder is an Emitter that keeps the data messages.
type recorder struct{ data []*component.Message }

func (r *recorder) Data(_ context.Context, m *component.Message) error {
	r.data = append(r.data, m)
	return nil
}
func (r *recorder) Error(context.Context, error) error                    { return nil }
func (r *recorder) Rebound(context.Context, error) error                  { return nil }
func (r *recorder) Snapshot(context.Context, json.RawMessage) error       { return nil }
func (r *recorder) UpdateSnapshot(context.Context, json.RawMessage) error { return nil }
func (r *recorder) UpdateKeys(context.Context, json.RawMessage) error     { return nil }
func (r *recorder) HTTPReply(context.Context, component.HTTPReply) error  { return nil }

// run processes body with f and returns the one emitted body.
func run(t *testing.T, f component.Function, body string) (map[string]any, error) {
	t.Helper()
	rec := &recorder{}
	ex := &component.Exec{Msg: &component.Message{Body: json.RawMessage(body)}, Emit: rec}
	if err := f.Process(context.Background(), ex); err != nil {
		if len(rec.data) != 0 {
			t.Errorf("emitted data and failed")
		}
		return nil, err
	}
	if len(rec.data) != 1 || rec.data[0].ID == "" {
		t.Fatalf("want one data message with an id, got %d", len(rec.data))
	}
	var out map[string]any
	if err := json.Unmarshal(rec.data[0].Body, &out); err != nil {
		t.Fatal(err)
	}
	return out, nil
}

func TestToFhirObservationAction(t *testing.T) {
	doc := string(mustJSON(t, sampleMetric(*byType["heart_rate"])))
	for name, body := range map[string]string{
		"metric field":                  `{"metric":` + doc + `,"patientIdentifier":{"system":"urn:mrn","value":"M1"}}`,
		"metric as JSON text":           `{"metric":` + string(mustJSON(t, doc)) + `,"patientIdentifier":{"system":"urn:mrn","value":"M1"}}`,
		"body is the document + option": strings.TrimSuffix(doc, "}") + `,"patientIdentifier":{"system":"urn:mrn","value":"M1"}}`,
	} {
		out, err := run(t, ToFhirObservationAction, body)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		validateFHIR(t, out)
		subject := out["subject"].(map[string]any)["identifier"].(map[string]any)
		if out["resourceType"] != "Observation" || subject["value"] != "M1" || subject["system"] != "urn:mrn" {
			t.Errorf("%s: %v", name, out)
		}
	}
}

func TestActionErrorsNameTheInputField(t *testing.T) {
	metric := strings.Replace(string(mustJSON(t, sampleMetric(*byType["heart_rate"]))), `"bpm"`, `"hz"`, 1)
	cases := []struct {
		name   string
		f      component.Function
		body   string
		field  string
		inText string
	}{
		{"no metric", ToFhirObservationAction, `{}`, "metric", "required"},
		{"metric not an object", ToFhirObservationAction, `{"metric":7}`, "metric", "object"},
		{"unknown unit", ToFhirObservationAction, `{"metric":` + metric + `}`, "metric.data.attributes.unit", `"hz"`},
		{"unit, body is the metric", ToFhirObservationAction, metric, "data.attributes.unit", `"hz"`},
		{"identifier without value", ToFhirObservationAction, `{"metric":{},"patientIdentifier":{"system":"x"}}`, "patientIdentifier.value", "required"},
		{"no observation", FromFhirObservationAction, `{"organization":"o"}`, "observation", "required"},
		{"organization not text", FromFhirObservationAction, `{"observation":{},"organization":1}`, "organization", "string"},
		{"unknown code", FromFhirObservationAction, `{"observation":{"resourceType":"Observation","status":"final",
		  "code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]}}}`, "observation.code", "http://loinc.org|8302-2"},
	}
	for _, c := range cases {
		_, err := run(t, c.f, c.body)
		if !isInputErr(err, c.field, c.inText) {
			t.Errorf("%s: got %v, want InputError on %s containing %s", c.name, err, c.field, c.inText)
		}
	}
}

func TestFromFhirObservationAction(t *testing.T) {
	obs, err := ToObservation(mustJSON(t, sampleMetric(*byType["weight"])), ToOptions{
		PatientIdentifier: &Identifier{System: "urn:oid:1.2.3", Value: "MRN-9"}})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"observation":` + string(mustJSON(t, foreign(obs))) + `,"organization":"org1","identifierSystem":"medical-record-number"}`
	out, err := run(t, FromFhirObservationAction, body)
	if err != nil {
		t.Fatal(err)
	}
	data := out["data"].(map[string]any)
	query := data["relationships"].(map[string]any)["patient"].(map[string]any)["data"].(map[string]any)["meta"].(map[string]any)["query"].(map[string]any)
	if query["organization"] != "org1" || query["identifier"].(map[string]any)["system"] != "medical-record-number" ||
		query["identifier"].(map[string]any)["value"] != "MRN-9" {
		t.Errorf("query %v", query)
	}
	if a := data["attributes"].(map[string]any); a["type"] != "weight" || a["value"] != 12.5 || a["unit"] != "lbs" {
		t.Errorf("attributes %v", a)
	}

	// The Observation itself as the body.
	out, err = run(t, FromFhirObservationAction, string(mustJSON(t, foreign(obs))))
	if err != nil {
		t.Fatal(err)
	}
	if out["data"].(map[string]any)["attributes"].(map[string]any)["type"] != "weight" {
		t.Errorf("body as Observation: %v", out)
	}
}

// foreignMap is an Observation body without this connector's tag and
// identifier.
func foreignMap(obs map[string]any) map[string]any {
	c := maps.Clone(obs)
	delete(c, "meta")
	delete(c, "identifier")
	return c
}

// platformKeys are the schema keywords of the platform's metadata dialect
// (lib/manifest.Schema).
var platformKeys = []string{"type", "title", "description", "required", "enum", "format", "minimum", "maximum",
	"maxLength", "items", "properties"}

// checkDialect reports schema keywords outside the platform dialect and
// required flags that are not booleans.
func checkDialect(t *testing.T, path string, schema map[string]any) {
	t.Helper()
	for k, v := range schema {
		if !slices.Contains(platformKeys, k) {
			t.Errorf("%s: keyword %q is not in the platform dialect", path, k)
		}
		if k == "required" {
			if _, ok := v.(bool); !ok {
				t.Errorf("%s: required is %T, want a boolean", path, v)
			}
		}
	}
	if props, ok := schema["properties"].(map[string]any); ok {
		for name, p := range props {
			checkDialect(t, path+"."+name, p.(map[string]any))
		}
	}
	if items, ok := schema["items"].(map[string]any); ok {
		checkDialect(t, path+"[]", items)
	}
}

// checkDescribed reports fields of an output value that the out schema does
// not declare; an object schema without properties holds anything.
func checkDescribed(t *testing.T, path string, v any, schema map[string]any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		props, declared := schema["properties"].(map[string]any)
		if !declared && schema["type"] == "object" {
			return // a free-form object (a Bundle entry's resource)
		}
		for k, sub := range x {
			ps, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("%s.%s is emitted but not in the out metadata", path, k)
				continue
			}
			checkDescribed(t, path+"."+k, sub, ps)
		}
	case []any:
		items, _ := schema["items"].(map[string]any)
		for _, it := range x {
			checkDescribed(t, path+"[]", it, items)
		}
	}
}

func TestOverlayMetadata(t *testing.T) {
	raw, err := os.ReadFile("../../component.overlay.json")
	if err != nil {
		t.Fatal(err)
	}
	var overlay struct {
		Actions map[string]struct {
			Main     string `json:"main"`
			Title    string `json:"title"`
			Metadata struct {
				In  map[string]any `json:"in"`
				Out map[string]any `json:"out"`
			} `json:"metadata"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(raw, &overlay); err != nil {
		t.Fatalf("overlay is not valid JSON: %v", err)
	}
	if len(overlay.Actions) != 4 {
		t.Fatalf("overlay actions: %d, want 4", len(overlay.Actions))
	}
	for name, a := range overlay.Actions {
		if a.Title == "" || a.Metadata.In == nil || a.Metadata.Out == nil {
			t.Errorf("%s: title or metadata missing", name)
		}
		if _, err := os.Stat(filepath.Join("../..", a.Main)); err != nil {
			t.Errorf("%s: main %s: %v", name, a.Main, err)
		}
		checkDialect(t, name+".in", a.Metadata.In)
		checkDialect(t, name+".out", a.Metadata.Out)
	}

	// The out metadata declares every field the actions emit.
	var types []any
	for _, row := range Types {
		types = append(types, row.Type)
	}
	enum := overlay.Actions["fromFhirObservation"].Metadata.Out["properties"].(map[string]any)["data"].(map[string]any)["properties"].(map[string]any)["attributes"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["enum"]
	if !slices.Equal(enum.([]any), types) {
		t.Errorf("metric type enum of the out metadata differs from the table")
	}
	for _, typ := range []string{"blood_pressure", "ldl_cholesterol", "inhaler_usage"} {
		doc := sampleMetric(*byType[typ])
		obs, err := run(t, ToFhirObservationAction, string(mustJSON(t, map[string]any{"metric": doc})))
		if err != nil {
			t.Fatal(err)
		}
		checkDescribed(t, "toFhirObservation", obs, overlay.Actions["toFhirObservation"].Metadata.Out)
		b, err := run(t, ToFhirObservationAction, string(mustJSON(t, map[string]any{"metric": doc, "output": "bundle"})))
		if err != nil {
			t.Fatal(err)
		}
		checkDescribed(t, "toFhirObservation bundle", b, overlay.Actions["toFhirObservation"].Metadata.Out)
		for _, opts := range []string{`}`, `,"organization":"o","identifierSystem":"mrn"}`} {
			req, err := run(t, FromFhirObservationAction, `{"observation":`+string(mustJSON(t, foreignMap(obs)))+opts)
			if err != nil {
				t.Fatal(err)
			}
			checkDescribed(t, "fromFhirObservation", req, overlay.Actions["fromFhirObservation"].Metadata.Out)
		}
	}
}

func TestPatientActionsMetadata(t *testing.T) {
	raw, err := os.ReadFile("../../component.overlay.json")
	if err != nil {
		t.Fatal(err)
	}
	var overlay struct {
		Actions map[string]struct {
			Metadata struct {
				In  map[string]any `json:"in"`
				Out map[string]any `json:"out"`
			} `json:"metadata"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(raw, &overlay); err != nil {
		t.Fatal(err)
	}
	patient := samplePatient()
	metrics := []any{sampleMetric(*byType["weight"]), sampleMetric(*byType["blood_pressure"])}
	for _, in := range []map[string]any{
		{"patient": patient},
		{"patient": patient, "identifierSystem": "urn:oid:1.2.3", "fitbitIdentifierSystem": "medical-record-number"},
		{"patient": patient, "metrics": metrics, "output": "bundle"},
		{"patient": patient, "metrics": map[string]any{"data": []any{metrics[0].(map[string]any)["data"]}, "meta": map[string]any{"req_id": "r9"}},
			"output": "bundle", "identifierSystem": "urn:oid:1.2.3", "fitbitIdentifierSystem": "medical-record-number"},
	} {
		out, err := run(t, ToFhirPatientAction, string(mustJSON(t, in)))
		if err != nil {
			t.Fatalf("%v: %v", in, err)
		}
		validateFHIR(t, out)
		checkDescribed(t, "toFhirPatient", out, overlay.Actions["toFhirPatient"].Metadata.Out)
		if in["output"] == nil {
			req, err := run(t, FromFhirPatientAction, string(mustJSON(t, map[string]any{"patient": out,
				"identifierSystem": cmpOr(in["identifierSystem"], "medical-record-number"), "groups": "g1, g2"})))
			if err != nil {
				t.Fatal(err)
			}
			checkDescribed(t, "fromFhirPatient", req, overlay.Actions["fromFhirPatient"].Metadata.Out)
			groups := req["meta"].(map[string]any)["query"].(map[string]any)["groups"]
			if fmt.Sprint(groups) != "[g1 g2]" {
				t.Errorf("groups %v", groups)
			}
		}
	}
	for _, name := range []string{"toFhirPatient", "fromFhirPatient"} {
		checkDialect(t, name+".in", overlay.Actions[name].Metadata.In)
		checkDialect(t, name+".out", overlay.Actions[name].Metadata.Out)
	}
}

func cmpOr(v any, def string) any {
	if v == nil {
		return def
	}
	return v
}

// samplePatient is a patient document as fetchPatient answers it.
func samplePatient() map[string]any {
	return map[string]any{"data": map[string]any{"type": "patient", "id": "58c4554710123c5c40dbab81",
		"attributes": map[string]any{"first_name": "Fiona", "last_name": "Reeves", "gender": "female", "birth_date": "1944-03-06",
			"email_address": "fiona@example.com", "archived": false, "note": "Relies on daughter to get around",
			"identifiers":   []any{map[string]any{"system": "medical-record-number", "value": "121212"}},
			"phone_numbers": []any{map[string]any{"type": "mobile", "value": "555-555-1234", "primary": true}},
			"addresses": []any{map[string]any{"city": "Cambridge", "lines": []any{"1234 Any St."}, "postal_code": "02138",
				"state": "MA", "use": "home"}}}},
		"meta": map[string]any{"req_id": "r1"}}
}

func TestPatientActionErrors(t *testing.T) {
	patient := string(mustJSON(t, samplePatient()))
	emr := `{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.3","value":"121212"}]}`
	cases := []struct {
		name        string
		f           component.Function
		body        string
		field, text string
	}{
		{"no patient", ToFhirPatientAction, `{}`, "patient", "required"},
		{"metrics without bundle", ToFhirPatientAction, `{"patient":` + patient + `,"metrics":[]}`, "metrics", "only with output bundle"},
		{"unknown output", ToFhirPatientAction, `{"patient":` + patient + `,"output":"xml"}`, "output", `"bundle"`},
		{"no such identifier", ToFhirPatientAction, `{"patient":` + patient + `,"identifierSystem":"urn:x","fitbitIdentifierSystem":"MyEHR"}`,
			"patient.data.attributes.identifiers", `"MyEHR"`},
		{"bad gender", ToFhirPatientAction, strings.Replace(patient, `"female"`, `"f"`, 1), "data.attributes.gender", "male, female"},
		{"bad phone type", ToFhirPatientAction, strings.Replace(patient, `"mobile"`, `"cell"`, 1), "data.attributes.phone_numbers.0.type", "mobile"},
		{"metric without id in a bundle", ToFhirPatientAction, `{"patient":` + patient + `,"output":"bundle","metrics":[{"type":"weight","value":80,"unit":"kg","occurred_at":"2024-01-01T00:00:00Z"}]}`,
			"metrics.0.identifier", "required"},
		{"no identifier system", FromFhirPatientAction, `{"patient":` + emr + `,"groups":"g1"}`, "identifierSystem", "required"},
		{"no groups", FromFhirPatientAction, `{"patient":` + emr + `,"identifierSystem":"urn:oid:1.2.3"}`, "groups", "required"},
		{"groups not ids", FromFhirPatientAction, `{"patient":` + emr + `,"identifierSystem":"urn:oid:1.2.3","groups":[1]}`, "groups.0", "group id"},
		{"Patient without the identifier", FromFhirPatientAction, `{"patient":` + emr + `,"identifierSystem":"urn:mrn","groups":"g1"}`,
			"patient.identifier", `"urn:mrn"`},
		{"partial birth date", FromFhirPatientAction, `{"patient":` + strings.Replace(emr, `]}`, `],"birthDate":"1944"}`, 1) +
			`,"identifierSystem":"urn:oid:1.2.3","groups":"g1"}`, "patient.birthDate", "full date"},
		{"identifier without system", FromFhirPatientAction, `{"patient":{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.3","value":"1"},{"value":"2"}]},
			"identifierSystem":"urn:oid:1.2.3","groups":"g1"}`, "patient.identifier.1.system", "required"},
		{"not a Patient", FromFhirPatientAction, `{"patient":{"resourceType":"Observation"},"identifierSystem":"a","groups":"g"}`, "patient.resourceType", "not Patient"},
	}
	for _, c := range cases {
		_, err := run(t, c.f, c.body)
		if !isInputErr(err, c.field, c.text) {
			t.Errorf("%s: got %v, want InputError on %s containing %s", c.name, err, c.field, c.text)
		}
		if err != nil && (strings.Contains(err.Error(), "Fiona") || strings.Contains(err.Error(), "555-555")) {
			t.Errorf("%s: the error shows patient data: %v", c.name, err)
		}
	}
}

func TestFromFhirObservationSkipsOwnObservations(t *testing.T) {
	obs, err := ToObservation(mustJSON(t, sampleMetric(*byType["weight"])), ToOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ex := &component.Exec{Msg: &component.Message{Body: mustJSON(t, map[string]any{"observation": obs})}, Emit: rec}
	if err := FromFhirObservationAction.Process(context.Background(), ex); err != nil || len(rec.data) != 0 {
		t.Errorf("own Observation: err %v, %d messages; want none", err, len(rec.data))
	}
}
