package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fhir"
)

var fhirSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	f, err := os.Open("../lib/fhir/testdata/fhir.schema.json")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("fhir.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("fhir.schema.json")
})

// validFHIR fails unless body is a valid FHIR R4 resource.
func validFHIR(t testing.TB, body []byte) {
	t.Helper()
	s, err := fhirSchema()
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(inst); err != nil {
		t.Errorf("not a valid FHIR R4 resource: %s", body)
	}
}

// fhirPoll runs one poll and returns the data bodies and error events.
func (e *env) fhirPoll(fn component.Function) ([]map[string]any, []error, error) {
	e.t.Helper()
	em := &errEmitter{stepEmitter: stepEmitter{e: e}}
	snap := e.snapshot
	if snap == nil {
		snap = json.RawMessage("{}")
	}
	err := fn.Process(context.Background(), &component.Exec{Msg: &component.Message{Body: json.RawMessage("{}")},
		Cfg: e.cfg, Snapshot: snap, Emit: em, API: e.clients})
	var bodies []map[string]any
	for _, m := range em.data {
		var b map[string]any
		if json.Unmarshal(m.Body, &b) != nil {
			e.t.Fatalf("not JSON: %s", m.Body)
		}
		validFHIR(e.t, m.Body)
		bodies = append(bodies, b)
	}
	return bodies, em.errs, err
}

type errEmitter struct {
	stepEmitter
	errs []error
}

func (s *errEmitter) Error(_ context.Context, err error) error {
	s.errs = append(s.errs, err)
	return nil
}

func TestPatientsFHIROutput(t *testing.T) {
	e := newEnv(t)
	e.cfg[FieldStartTime] = "2020-01-01T00:00:00Z"
	e.cfg[FieldPageSize] = "50"
	n := len(e.sb.Seeded().PatientIDs)

	e.cfg[FieldOutput] = OutputFHIR
	e.cfg[FieldIdentifierSystem] = "urn:oid:1.2.3"
	e.cfg[FieldFitbitIdentifierSystem] = "medical-record-number"
	bodies, errs, err := e.fhirPoll(Patients)
	if err != nil || len(errs) != 0 || len(bodies) != n {
		t.Fatalf("FHIR poll: %d bodies, errors %v, %v; want %d Patients", len(bodies), errs, err, n)
	}
	for _, b := range bodies {
		ids, _ := b["identifier"].([]any)
		if b["resourceType"] != "Patient" || len(ids) < 2 || ids[1].(map[string]any)["system"] != "urn:oid:1.2.3" {
			t.Fatalf("not a Patient with the EMR's MRN: %v", b)
		}
	}

	// A new patient, as a Bundle; one that cannot be mapped is an error event.
	e.snapshot = nil
	e.cfg[FieldOutput] = OutputFHIRBundle
	e.cfg[FieldStartTime] = e.clk.Now().Format(time.RFC3339)
	e.clk.Advance(time.Second)
	e.call("POST", "/patient", map[string]any{"data": map[string]any{"type": "patient",
		"attributes":    map[string]any{"first_name": "Nia", "identifiers": []any{map[string]any{"system": "medical-record-number", "value": "N-1"}}},
		"relationships": map[string]any{"groups": map[string]any{"data": []any{map[string]any{"type": "group", "id": e.sb.Seeded().GroupIDs[0]}}}}}})
	e.clk.Advance(time.Second)
	bad := idOf(e.createPatient("NoMRN"))
	e.clk.Advance(time.Minute)
	bodies, errs, err = e.fhirPoll(Patients)
	if err != nil || len(bodies) != 1 || len(errs) != 1 {
		t.Fatalf("bundle poll: %v, errors %v, %v", bodies, errs, err)
	}
	if b := bodies[0]; b["resourceType"] != "Bundle" || b["type"] != "transaction" {
		t.Errorf("not a transaction Bundle: %v", b)
	}
	req := bodies[0]["entry"].([]any)[0].(map[string]any)["request"].(map[string]any)
	if req["method"] != "POST" || req["ifNoneExist"] != "identifier="+fhir.TokenParam(fhir.Identifier{System: "urn:oid:1.2.3", Value: "N-1"}) {
		t.Errorf("request %v", req)
	}
	if msg := errs[0].Error(); !strings.Contains(msg, "patient "+bad) || strings.Contains(msg, "NoMRN") {
		t.Errorf("error event %q: want the patient id and no patient data", msg)
	}

	// The calendar events trigger has no FHIR output.
	if _, _, err := e.fhirPoll(CalendarEvents); !isFieldErr(err, FieldOutput) {
		t.Errorf("calendar events with FHIR output: %v", err)
	}
	e.cfg[FieldOutput] = "xml"
	if _, _, err := e.fhirPoll(Patients); !isFieldErr(err, FieldOutput) {
		t.Errorf("unknown output: %v", err)
	}
}

func isFieldErr(err error, field string) bool {
	ie, ok := err.(*component.InputError)
	return ok && ie.Field == field
}

func TestMetricsFHIRBundleOutput(t *testing.T) {
	e := newEnv(t)
	trig := metricsAt(e)
	e.cfg[FieldOutput] = OutputFHIRBundle
	e.clk.Advance(time.Minute)
	if _, _, err := e.fhirPoll(trig); err != nil {
		t.Fatal(err)
	}
	pid := e.sb.Seeded().PatientIDs[0]
	m := e.addMetric(pid, "weight", e.clk.Now())
	e.clk.Advance(time.Minute)
	bodies, errs, err := e.fhirPoll(trig)
	if err != nil || len(errs) != 0 || len(bodies) != 1 {
		t.Fatalf("poll: %v %v %v", bodies, errs, err)
	}
	entry := bodies[0]["entry"].([]any)[0].(map[string]any)
	obs := entry["resource"].(map[string]any)
	subject := obs["subject"].(map[string]any)["reference"]
	if bodies[0]["type"] != "transaction" || entry["request"].(map[string]any)["ifNoneExist"] != "identifier="+fhir.MetricIDSystem+"|"+m ||
		subject != "Patient?identifier="+fhir.PatientIDSystem+"|"+pid {
		t.Errorf("bundle %v", bodies[0])
	}
}
