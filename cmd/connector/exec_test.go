package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fitbitplus/connector/actions"
	"github.com/fitbitplus/connector/lib/fitbitplus/fitbitplustest"
	"github.com/fitbitplus/connector/lib/rest"
	"github.com/fitbitplus/connector/lib/sailor"
	"github.com/fitbitplus/connector/lib/sandbox"
)

// runCLIWith runs the binary's entry point in process with the given stdin.
func runCLIWith(t *testing.T, stdin string, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{
		Getenv: func(k string) string { return env[k] },
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errb,
	}
	code = run(context.Background(), args, c)
	return code, out.String(), errb.String()
}

type eventLine struct {
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
}

func parseEvents(t *testing.T, stdout string) []eventLine {
	t.Helper()
	var evs []eventLine
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if line == "" {
			continue
		}
		var ev eventLine
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("stdout line is not an event: %q", line)
		}
		evs = append(evs, ev)
	}
	return evs
}

func TestDemoRunsTheFlow(t *testing.T) {
	code, out, errOut := runCLIWith(t, "", nil, "demo")
	if code != 0 {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"token obtained", "found patient", "created ", "weight = 82.5 kg",
		"complete=true", "http://loinc.org 29463-7 (Body weight), 82.5 kg", "1 token exchange(s)",
		"Bundle transaction with 14 entries: 1 Patient, 13 Observations",
		"if none exists with identifier=urn:oid:2.16.840.1.113883.19.5|MRN-0001", "same patient=true",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sandbox-secret") {
		t.Error("the demo must not print the client secret")
	}
}

func TestExecActionAgainstSandboxFillsOrganisation(t *testing.T) {
	code, out, errOut := runCLIWith(t, "", nil, "exec", "fetchPatients", "--sandbox")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	evs := parseEvents(t, out)
	if len(evs) != 1 || evs[0].Event != "data" {
		t.Fatalf("want one data event, got %s", out)
	}
	var msg struct {
		Body struct {
			Data []struct{ Type string } `json:"data"`
			Meta struct{ Count int }     `json:"meta"`
		} `json:"body"`
	}
	if err := json.Unmarshal(evs[0].Payload, &msg); err != nil {
		t.Fatal(err)
	}
	if len(msg.Body.Data) == 0 || msg.Body.Data[0].Type != "patient" || msg.Body.Meta.Count < len(msg.Body.Data) {
		t.Fatalf("unexpected page: %s", evs[0].Payload)
	}
}

func TestExecRunsEveryInputMessage(t *testing.T) {
	stdin := `{"id":"does-not-exist"} {"body":{"id":"also-missing"},"headers":{"x-eio-meta-trace":"t1"}}`
	code, out, _ := runCLIWith(t, stdin, nil, "exec", "fetchPatient", "--sandbox")
	if code != 1 {
		t.Fatalf("unknown patients must give error events and exit 1, got %d: %s", code, out)
	}
	evs := parseEvents(t, out)
	if len(evs) != 2 {
		t.Fatalf("want two events, got %s", out)
	}
	for _, ev := range evs {
		var p map[string]any
		_ = json.Unmarshal(ev.Payload, &p)
		if ev.Event != "error" || p["name"] != "FitbitPlusAPIError" || !strings.Contains(string(ev.Payload), "ResourceNotFound") {
			t.Errorf("want a ResourceNotFound error event, got %s", ev.Payload)
		}
	}
}

func TestExecInvalidInputIsAnErrorEventWithoutCallingTheAPI(t *testing.T) {
	code, out, _ := runCLIWith(t, `{}`, nil, "exec", "fetchPatient", "--sandbox")
	evs := parseEvents(t, out)
	if code != 1 || len(evs) != 1 || evs[0].Event != "error" || !strings.Contains(string(evs[0].Payload), `"field":"id"`) {
		t.Fatalf("exit %d, events %s", code, out)
	}
}

func TestExecConfigFromFileAndBadArguments(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "cfg.json")
	if err := os.WriteFile(cfgFile, []byte(`{"server":"--- Custom URL","otherServer":"not a url"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLIWith(t, `{"id":"x"}`, nil, "exec", "fetchPatient", "--config", cfgFile)
	evs := parseEvents(t, out)
	if code != 1 || len(evs) != 1 || !strings.Contains(string(evs[0].Payload), "InvalidCredential") {
		t.Fatalf("a bad base URL must be an InvalidCredential error event, got %d %s", code, out)
	}

	if code, _, errOut := runCLIWith(t, "", nil, "exec", "noSuchAction"); code != 2 || !strings.Contains(errOut, "noSuchAction") {
		t.Fatalf("unknown function: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCLIWith(t, "", nil, "exec", "fetchGroups", "--config", "{not json"); code != 2 || !strings.Contains(errOut, "--config") {
		t.Fatalf("bad config: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCLIWith(t, "[1]", nil, "exec", "fetchGroups"); code != 2 || !strings.Contains(errOut, "input message 1") {
		t.Fatalf("bad stdin: exit %d, %s", code, errOut)
	}
}

func TestExecRunsATriggerAndResumesFromItsSnapshot(t *testing.T) {
	cfg := `{"startTime":"2000-01-01T00:00:00Z"}`
	code, out, errOut := runCLIWith(t, "", nil, "exec", "patients", "--sandbox", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var data int
	var snapshot json.RawMessage
	for _, ev := range parseEvents(t, out) {
		switch ev.Event {
		case "data":
			data++
		case "snapshot":
			snapshot = ev.Payload
		}
	}
	if data != 60 || snapshot == nil {
		t.Fatalf("first poll: %d data events (want the 60 seeded patients), snapshot %s", data, snapshot)
	}
	code, out, errOut = runCLIWith(t, "", nil, "exec", "patients", "--sandbox", "--config", cfg, "--snapshot", string(snapshot))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, ev := range parseEvents(t, out) {
		if ev.Event == "data" {
			t.Fatalf("second poll from the snapshot must emit nothing new, got %s", ev.Payload)
		}
	}
	if strings.Contains(out, "sandbox-secret") || strings.Contains(out, "clientSecret") {
		t.Fatal("trigger output must not carry the credential")
	}
}

func TestExecMetricsTriggerEmitsFHIRObservations(t *testing.T) {
	cfg := `{"startTime":"2000-01-01T00:00:00Z","output":"fhir","metricTypes":"weight,blood_pressure"}`
	code, out, errOut := runCLIWith(t, "", nil, "exec", "patientHealthMetrics", "--sandbox", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	n := 0
	for _, ev := range parseEvents(t, out) {
		if ev.Event != "data" {
			continue
		}
		n++
		var msg struct {
			Body struct {
				ResourceType string `json:"resourceType"`
				Status       string `json:"status"`
				Code         struct {
					Coding []struct{ System, Code string } `json:"coding"`
				} `json:"code"`
			} `json:"body"`
		}
		if err := json.Unmarshal(ev.Payload, &msg); err != nil {
			t.Fatal(err)
		}
		b := msg.Body
		if b.ResourceType != "Observation" || b.Status != "final" || len(b.Code.Coding) == 0 ||
			b.Code.Coding[0].System != "http://loinc.org" ||
			(b.Code.Coding[0].Code != "29463-7" && b.Code.Coding[0].Code != "85354-9") {
			t.Fatalf("not a weight or blood pressure Observation: %s", ev.Payload)
		}
	}
	if n == 0 {
		t.Fatal("no Observation emitted")
	}

	code, out, _ = runCLIWith(t, "", nil, "exec", "patientHealthMetrics", "--sandbox", "--config", `{"output":"xml"}`)
	if code != 1 || !strings.Contains(out, `"field":"output"`) {
		t.Fatalf("a bad output value must be an error event naming the field: %d %s", code, out)
	}
}

// FITBITPLUS_REQUEST_TIMEOUT bounds each attempt: a hanging API ends in a
// rebound (the platform retries later), not in a stuck message.
func TestRequestTimeoutFromTheEnvironment(t *testing.T) {
	api := fitbitplustest.NewServer("c1", "s1")
	defer api.Close()
	release := make(chan struct{})
	defer close(release)
	api.API = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	cfg := `{"server":"--- Custom URL","otherServer":"` + api.BaseURL() + `","clientId":"c1","clientSecret":"s1"}`
	env := map[string]string{"FITBITPLUS_REQUEST_TIMEOUT": "50ms"}
	start := time.Now()
	code, out, errOut := runCLIWith(t, `{"id":"p1"}`, env, "exec", "fetchPatient", "--config", cfg)
	if code != 0 || !strings.Contains(out, `"event":"rebound"`) {
		t.Fatalf("exit %d, want one rebound event: %s %s", code, out, errOut)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %v", d)
	}

	code, _, errOut = runCLIWith(t, `{"id":"p1"}`, map[string]string{"FITBITPLUS_REQUEST_TIMEOUT": "soon"}, "exec", "fetchPatient")
	if code != 2 || !strings.Contains(errOut, "FITBITPLUS_REQUEST_TIMEOUT") {
		t.Fatalf("a bad timeout must be refused naming the variable: %d %s", code, errOut)
	}
}

// Every action that needs no id and no request document runs as it is
// against the sandbox: its filters are filled from the seeded organisation.
func TestExecEveryListActionRunsAsIsAgainstTheSandbox(t *testing.T) {
	n := 0
	for name, fn := range actions.Registry {
		op := fn.(*rest.Operation)
		needsInput := op.Body != nil && op.Body.Required
		for _, p := range op.Params {
			needsInput = needsInput || p.In == "path"
		}
		if needsInput {
			continue
		}
		n++
		code, out, errOut := runCLIWith(t, "", nil, "exec", name, "--sandbox")
		evs := parseEvents(t, out)
		if code != 0 || len(evs) == 0 || evs[0].Event != "data" {
			t.Errorf("%s: exit %d, events %s %s", name, code, out, errOut)
		}
	}
	if n < 10 {
		t.Fatalf("only %d list actions found", n)
	}
}

// TestExecRedactsTheConfigSecrets: a secret given with --config and echoed
// by the API (here in an error the token endpoint's answer causes) is
// removed from the events exec prints and from stderr.
func TestExecRedactsTheConfigSecrets(t *testing.T) {
	const secret = "exec-secret-4f9a2c"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.api+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":[{"status":"401","code":"InvalidCredentials","detail":"client secret ` + secret + ` refused"}]}`))
	}))
	defer srv.Close()
	cfg := `{"server":"--- Custom URL","otherServer":"` + srv.URL + `","clientId":"c1","clientSecret":"` + secret + `"}`
	code, out, errOut := runCLIWith(t, `{"id":"p1"}`, nil, "exec", "fetchPatient", "--config", cfg)
	if code != 1 || !strings.Contains(out, `"event":"error"`) {
		t.Fatalf("exit %d, stdout:\n%s", code, out)
	}
	if strings.Contains(out+errOut, secret) {
		t.Errorf("the secret was printed:\n%s\n%s", out, errOut)
	}
}

// TestExecResolvesLightweightInputs: an input whose body is in object
// storage is run on that body, as the worker would.
func TestExecResolvesLightweightInputs(t *testing.T) {
	store := sandbox.NewObjectStore("tok-123456", nil)
	srv := httptest.NewServer(store)
	defer srv.Close()
	env := map[string]string{"ELASTICIO_OBJECT_STORAGE_TOKEN": "tok-123456",
		"ELASTICIO_MESSAGE_CRYPTO_PASSWORD": "exec-crypto-pw", "ELASTICIO_MESSAGE_CRYPTO_IV": "0123456789abcdef"}
	cipher, err := sailor.NewCipher(env["ELASTICIO_MESSAGE_CRYPTO_PASSWORD"], env["ELASTICIO_MESSAGE_CRYPTO_IV"])
	if err != nil {
		t.Fatal(err)
	}
	metric := `{"metric":{"data":{"type":"patient_health_metric","id":"m1","attributes":{"type":"weight","value":70,"unit":"kg","occurred_at":"2026-11-01T07:30:00Z"},"relationships":{"patient":{"data":{"type":"patient","id":"p1"}}}}}}`
	id := store.Put(cipher.Encrypt([]byte(metric)))
	in := `{"headers":{"x-ipaas-object-storage-id":"` + id + `"},"body":{}}`
	code, out, errOut := runCLIWith(t, in, env, "exec", "toFhirObservation", "--object-storage", srv.URL)
	if code != 0 || !strings.Contains(out, `"resourceType":"Observation"`) || !strings.Contains(out, "29463-7") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = runCLIWith(t, `{"headers":{"x-ipaas-object-storage-id":"missing"},"body":{}}`, env,
		"exec", "toFhirObservation", "--object-storage", srv.URL)
	if code != 1 || !strings.Contains(errOut, "Failed to get message body with id=missing") {
		t.Errorf("a missing object: exit %d, stderr %s", code, errOut)
	}
}
