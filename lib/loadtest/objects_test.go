//go:build integration

package loadtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/loadtest"
	"github.com/fitbitplus/connector/lib/sailor"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Lightweight messages through `connector run` and the rig's stand-in object
// storage (rigOptions.objects): inputs whose body is in the store, the store
// failing, bodies uploaded above the threshold and a flow of three steps.

const (
	objectToken  = "loadtest-object-token"
	objectHeader = "x-ipaas-object-storage-id"
)

// putObject stores body as the platform keeps a lightweight message's body:
// its JSON, encrypted with the step's key and IV as raw AES.
func (r *rig) putObject(body any) string {
	r.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.objects.Put(r.cipher.Encrypt(b))
}

// object is the decrypted content of a stored object.
func (r *rig) object(id string) json.RawMessage {
	r.t.Helper()
	ct, ok := r.objects.Get(id)
	if !ok {
		r.t.Fatalf("object %s is not in the store", id)
	}
	plain, err := r.cipher.Decrypt(ct)
	if err != nil {
		r.t.Fatalf("object %s: %v", id, err)
	}
	return plain
}

// lightweight is the envelope of a message whose body is object id.
func lightweight(id string) map[string]any {
	return map[string]any{"headers": map[string]any{objectHeader: id}, "body": map[string]any{}}
}

// publishEnvelope publishes envelope (protocol v1) as input id with headers
// (nil: loadtest.InputHeaders) and waits for the confirm.
func (r *rig) publishEnvelope(id string, envelope any, headers amqp.Table) {
	r.t.Helper()
	plain, err := json.Marshal(envelope)
	if err != nil {
		r.t.Fatal(err)
	}
	if headers == nil {
		headers = loadtest.InputHeaders(id)
	}
	r.publishRaw(id, r.cipher.EncryptMessage(plain, 1), headers)
}

func (r *rig) publishRaw(id string, body []byte, headers amqp.Table) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.pub.PublishRaw(ctx, id, body, headers); err != nil {
		r.t.Fatal(err)
	}
	if err := r.pub.Confirm(ctx); err != nil {
		r.t.Fatal(err)
	}
}

// envelope is the part of a decrypted message the checks read.
type envelope struct {
	ID          string                     `json:"id"`
	Headers     map[string]any             `json:"headers"`
	Body        json.RawMessage            `json:"body"`
	Passthrough map[string]json.RawMessage `json:"passthrough"`
}

func decodeEnvelope(t *testing.T, plain []byte) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(plain, &e); err != nil {
		t.Fatalf("output %s: %v", plain, err)
	}
	return e
}

// lastOutput is the last data output the collector decrypted.
func (r *rig) lastOutput() envelope {
	r.t.Helper()
	data, _ := r.col.Outputs()
	if len(data) == 0 {
		r.t.Fatal("no data output")
	}
	return decodeEnvelope(r.t, data[len(data)-1])
}

// ref is the object a message or passthrough entry refers to, and whether
// its body is {}.
func (e envelope) ref() (id string, empty bool) {
	id, _ = e.Headers[objectHeader].(string)
	return id, string(e.Body) == "{}"
}

func (e envelope) entry(t *testing.T, step string) envelope {
	t.Helper()
	raw, ok := e.Passthrough[step]
	if !ok {
		t.Fatalf("no passthrough entry %s in %v", step, keys(e.Passthrough))
	}
	return decodeEnvelope(t, raw)
}

func keys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// patientFilter finds the seeded patient by its medical record number.
func (r *rig) patientFilter() map[string]any {
	s := r.sb.Seeded()
	return map[string]any{"filter": map[string]any{"organization": s.OrganizationID,
		"identifier": map[string]any{"system": s.PatientIdentifier.System, "value": s.PatientIdentifier.Value}}}
}

// TestLightweightInput: the body of the input is in object storage; the
// function gets it, not {}: a list action's filter applies, and a write
// action creates what the stored body says.
func TestLightweightInput(t *testing.T) {
	t.Run("list", func(t *testing.T) {
		r := newRig(t, rigOptions{objects: true})
		r.start(r.env(1, map[string]string{"ELASTICIO_FUNCTION": "fetchPatients"}))
		r.publishEnvelope("list-0", lightweight(r.putObject(r.patientFilter())), nil)
		r.waitSettled([]string{"list-0"}, 30*time.Second)
		r.expect([]string{"list-0"}, allData, 0)
		var list struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.lastOutput().Body, &list); err != nil {
			t.Fatal(err)
		}
		if want := r.sb.Seeded().PatientID; len(list.Data) != 1 || list.Data[0].ID != want {
			t.Errorf("the output lists %v, want only patient %s (the stored filter's)", list.Data, want)
		}
	})
	t.Run("write", func(t *testing.T) {
		r := newRig(t, rigOptions{objects: true})
		input, err := loadtest.Inputs(loadtest.ActionCreateMetric, r.sb.Seeded())
		if err != nil {
			t.Fatal(err)
		}
		r.start(r.env(1, map[string]string{"ELASTICIO_FUNCTION": loadtest.ActionCreateMetric}))
		r.publishEnvelope("write-0", lightweight(r.putObject(input(7))), nil)
		r.waitSettled([]string{"write-0"}, 30*time.Second)
		r.expect([]string{"write-0"}, allData, 0)
		var doc struct {
			Data struct {
				ID         string         `json:"id"`
				Attributes map[string]any `json:"attributes"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.lastOutput().Body, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Data.ID == "" || doc.Data.Attributes["value"] != 87.0 || doc.Data.Attributes["type"] != "blood_glucose" {
			t.Errorf("created %s %v, want the stored metric (blood_glucose 87)", doc.Data.ID, doc.Data.Attributes)
		}
		if n := r.sb.Stats().Operations[loadtest.ActionCreateMetric]; n != 1 {
			t.Errorf("%d metrics created, want 1", n)
		}
	})
}

// TestLightweightInputStorageDown: object storage answers 5xx (retried,
// then given up) or 404; each input ends as the error "Failed to get
// message body with id=…" and is rejected, and its function never runs: no
// request reaches the API. The next input, once the storage answers, is
// processed.
func TestLightweightInputStorageDown(t *testing.T) {
	r := newRig(t, rigOptions{objects: true})
	r.start(r.env(1, map[string]string{"ELASTICIO_FUNCTION": "fetchPatients"}))
	cases := []struct {
		id   string
		fail []int
	}{
		{"down-5xx", []int{http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusInternalServerError}},
		{"down-404", []int{http.StatusNotFound}},
	}
	objects := map[string]string{}
	for _, c := range cases {
		objects[c.id] = r.putObject(r.patientFilter())
		r.objects.FailNext(c.fail...)
		r.publishEnvelope(c.id, lightweight(objects[c.id]), nil)
		r.waitSettled([]string{c.id}, 30*time.Second)
	}
	ids := []string{cases[0].id, cases[1].id}
	r.expect(ids, func(string) string { return "error" }, 0)
	for _, id := range ids {
		msgs := r.col.Record(id).ErrorMessages
		if want := "Failed to get message body with id=" + objects[id]; len(msgs) != 1 || !strings.Contains(msgs[0], want) {
			t.Errorf("input %s: errors %q, want one with %q", id, msgs, want)
		}
	}
	if n := r.sb.Stats().Requests; n != 0 {
		t.Errorf("%d API requests while no input could be resolved: a function ran", n)
	}
	r.publishEnvelope("down-after", lightweight(r.putObject(r.patientFilter())), nil)
	r.waitSettled([]string{"down-after"}, 30*time.Second)
	r.expect([]string{"down-after"}, allData, 0)
}

// TestLightweightOutput: with ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE, an output
// above the threshold reaches the next step as {} and the object's id, the
// store holding the body (and the step's own passthrough entry refers to the
// same object); below it, the body travels inline and nothing is uploaded.
func TestLightweightOutput(t *testing.T) {
	r := newRig(t, rigOptions{objects: true})
	r.platform.SetStep("is_passthrough", true)
	patient := r.sb.Seeded().PatientIDs[0]
	for _, c := range []struct {
		threshold string
		above     bool
	}{{"100", true}, {"1048576", false}} {
		w := r.start(r.env(1, map[string]string{"ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE": "true",
			"ELASTICIO_OBJECT_STORAGE_SIZE_THRESHOLD": c.threshold}))
		_, putsBefore := r.objects.Counts()
		ids := r.publish("threshold-"+c.threshold, 1)
		r.waitSettled(ids, 30*time.Second)
		r.expect(ids, allData, 0)
		if _, err := w.Stop(15 * time.Second); err != nil {
			t.Fatal(err)
		}
		out := r.lastOutput()
		self := out.entry(t, loadtest.StepID)
		id, empty := out.ref()
		selfID, selfEmpty := self.ref()
		_, puts := r.objects.Counts()
		body := out.Body
		if c.above {
			if id == "" || !empty || selfID != id || !selfEmpty {
				t.Fatalf("threshold %s: output body %.80s… object %q, own passthrough entry object %q; want {} and one object for both",
					c.threshold, out.Body, id, selfID)
			}
			body = r.object(id)
			if puts-putsBefore != 1 {
				t.Errorf("threshold %s: %d uploads, want 1", c.threshold, puts-putsBefore)
			}
		} else if id != "" || selfID != "" || puts != putsBefore {
			t.Errorf("threshold %s: output refers to object %q (own entry %q) after %d uploads; want the body inline", c.threshold, id, selfID, puts-putsBefore)
		}
		var doc struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &doc); err != nil || doc.Data.ID != patient {
			t.Errorf("threshold %s: the body is %.80s… (%v), want patient %s", c.threshold, body, err, patient)
		}
	}
}

// TestLightweightPassthroughChain runs a flow of three steps with
// is_passthrough, one `connector run` per step on the rig's topology, each
// step's output published as the next step's input as the platform routes
// it: an EMR Observation becomes a Fitbit Plus metric and goes back to FHIR.
//
//	step_1 fromFhirObservation     inline in; lightweight on, below the threshold: inline out
//	(the platform's mapping, which this test plays: body {requestBody: <step_1's body>})
//	step_2 createPatientHealthMetric  inline in; threshold 64: body and carried entry uploaded
//	step_3 toFhirObservation      body and both entries resolved; lightweight off: all inline out
func TestLightweightPassthroughChain(t *testing.T) {
	r := newRig(t, rigOptions{objects: true, noCollect: true})
	r.platform.SetStep("is_passthrough", true)
	insp, err := r.top.Inspect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = insp.Close() })
	seed := r.sb.Seeded()
	obs := map[string]any{"resourceType": "Observation", "status": "final",
		"code":              map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "2339-0"}}},
		"subject":           map[string]any{"identifier": map[string]any{"system": seed.PatientIdentifier.System, "value": seed.PatientIdentifier.Value}},
		"effectiveDateTime": "2026-10-01T07:00:00Z",
		"valueQuantity":     map[string]any{"value": 97, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}}
	light := map[string]string{"ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE": "true", "ELASTICIO_OBJECT_STORAGE_SIZE_THRESHOLD": "64"}
	steps := []struct {
		step, function string
		extra          map[string]string
	}{
		{"step_1", "fromFhirObservation", map[string]string{"ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE": "true"}},
		{"step_2", loadtest.ActionCreateMetric, light},
		{"step_3", "toFhirObservation", nil},
	}
	var outs []envelope
	var plains [][]byte
	var prev amqp.Delivery
	for i, s := range steps {
		env := r.env(1, map[string]string{"ELASTICIO_STEP_ID": s.step, "ELASTICIO_FUNCTION": s.function})
		for k, v := range s.extra {
			env[k] = v
		}
		w := r.start(env)
		switch i {
		case 0:
			r.publishEnvelope("chain-0", map[string]any{"headers": map[string]any{},
				"body": map[string]any{"observation": obs, "organization": seed.OrganizationID}}, nil)
		case 1:
			var mapped map[string]json.RawMessage
			if err := json.Unmarshal(plains[0], &mapped); err != nil {
				t.Fatal(err)
			}
			mapped["body"], _ = json.Marshal(map[string]json.RawMessage{"requestBody": outs[0].Body})
			r.publishEnvelope(outs[0].ID, mapped, prev.Headers)
		default:
			r.publishRaw(outs[i-1].ID, prev.Body, prev.Headers)
		}
		prev = takeOutput(t, insp, r.top, r.cipher, s.step, 30*time.Second)
		if _, err := w.Stop(15 * time.Second); err != nil {
			t.Fatal(err)
		}
		plain := decryptData(t, r.cipher, prev)
		plains = append(plains, plain)
		outs = append(outs, decodeEnvelope(t, plain))
		if got := keys(outs[i].Passthrough); !reflect.DeepEqual(got, stepNames(i+1)) {
			t.Fatalf("%s: passthrough of %v, want %v", s.step, got, stepNames(i+1))
		}
	}
	o1, o2, o3 := outs[0], outs[1], outs[2]
	// step_1: below the threshold, inline.
	if id, _ := o1.ref(); id != "" || !strings.Contains(string(o1.Body), `"value":97`) {
		t.Errorf("step_1 output: object %q, body %s; want the metric inline", id, o1.Body)
	}
	// step_2: its body and the carried entry uploaded; its own entry refers
	// to its body's object.
	bodyID, empty := o2.ref()
	carriedID, carriedEmpty := o2.entry(t, "step_1").ref()
	selfID, selfEmpty := o2.entry(t, "step_2").ref()
	if bodyID == "" || !empty || carriedID == "" || !carriedEmpty || selfID != bodyID || !selfEmpty {
		t.Fatalf("step_2 output: body %s object %q, step_1 entry object %q (empty %v), step_2 entry object %q (empty %v)",
			o2.Body, bodyID, carriedID, carriedEmpty, selfID, selfEmpty)
	}
	var metric struct {
		Data struct {
			ID         string         `json:"id"`
			Attributes map[string]any `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.object(bodyID), &metric); err != nil || metric.Data.ID == "" || metric.Data.Attributes["value"] != 97.0 {
		t.Fatalf("step_2's stored body: %+v (%v)", metric, err)
	}
	if !jsonEqual(r.object(carriedID), o1.Body) {
		t.Errorf("step_2 uploaded the step_1 entry as %s, want %s", r.object(carriedID), o1.Body)
	}
	// step_3 resolved its body (the Observation is of the metric step_2
	// created) and, with lightweight output off, inlines every entry.
	if id, _ := o3.ref(); id != "" || !strings.Contains(string(o3.Body), `"value":"`+metric.Data.ID+`"`) {
		t.Errorf("step_3 output: object %q, body %s; want the Observation of metric %s inline", id, o3.Body, metric.Data.ID)
	}
	for step, want := range map[string]json.RawMessage{"step_1": o1.Body, "step_2": r.object(bodyID), "step_3": o3.Body} {
		if got := o3.entry(t, step).Body; !jsonEqual(got, want) {
			t.Errorf("step_3 output: passthrough.%s.body %s, want %s", step, got, want)
		}
	}
	if ops := r.sb.Stats().Operations; ops[loadtest.ActionCreateMetric] != 1 {
		t.Errorf("API operations %v, want one metric created", ops)
	}
	if gets, puts := r.objects.Counts(); puts != 2 {
		t.Errorf("%d uploads (%d downloads), want 2: step_2's body and the step_1 entry", puts, gets)
	}
}

func stepNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("step_%d", i+1)
	}
	return out
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// takeOutput waits (bounded) for one message on top's data queue; an
// error event instead fails the test with its message.
func takeOutput(t *testing.T, insp *loadtest.Inspector, top *loadtest.Topology, c *sailor.Cipher, step string, timeout time.Duration) amqp.Delivery {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, ok, err := insp.Get(top.DataQueue)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return d
		}
		if e, ok, _ := insp.Get(top.ErrorQueue); ok {
			t.Fatalf("%s emitted an error: %s", step, errorMessage(c, e.Body))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no output within %v", step, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// errorMessage decrypts an error event's error.
func errorMessage(c *sailor.Cipher, body []byte) string {
	var p struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return fmt.Sprintf("undecodable error event: %v", err)
	}
	plain, err := c.DecryptMessage([]byte(p.Error), 1)
	if err != nil {
		return fmt.Sprintf("undecryptable error event: %v", err)
	}
	return string(plain)
}

// decryptData decrypts a data message for the protocol version its header
// names.
func decryptData(t *testing.T, c *sailor.Cipher, d amqp.Delivery) []byte {
	t.Helper()
	v := 1
	if n, ok := d.Headers["protocolVersion"].(int64); ok {
		v = int(n)
	} else if n, ok := d.Headers["protocolVersion"].(int8); ok {
		v = int(n)
	}
	plain, err := c.DecryptMessage(d.Body, v)
	if err != nil {
		t.Fatalf("decrypt output: %v", err)
	}
	return plain
}
