package triggers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fitbitplus/connector/actions"
)

func metricsAt(e *env) *MetricsTrigger {
	return &MetricsTrigger{Name: "patientHealthMetrics", Patients: actions.FetchPatients,
		Metrics: actions.FetchPatientHealthMetrics, Now: e.clk.Now}
}

// addMetric creates a metric; the sandbox clock moves 1 ms first so that
// the creation order is the list order.
func (e *env) addMetric(patient, typ string, occurred time.Time) string {
	e.clk.Advance(time.Millisecond)
	d := e.call("POST", "/patient_health_metric", map[string]any{"data": map[string]any{
		"type":          "patient_health_metric",
		"attributes":    map[string]any{"type": typ, "value": 70, "unit": "kg", "occurred_at": occurred.Format(time.RFC3339)},
		"relationships": map[string]any{"patient": map[string]any{"data": map[string]any{"type": "patient", "id": patient}}}}})
	return fmt.Sprint(d["id"])
}

func TestMetricsEmitNewMetricsExactlyOnce(t *testing.T) {
	e := newEnv(t)
	trig := metricsAt(e)
	pids := slices.Sorted(slices.Values(e.sb.Seeded().PatientIDs[:3]))
	var want []string

	// Poll 1: the seeded metrics are older than the start time.
	e.clk.Advance(time.Minute)
	got, err := e.poll(trig, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("poll 1: %v %v", got, err)
	}
	var st metricsState
	if err := json.Unmarshal(e.snapshot, &st); err != nil || len(st.Pos) < 3 {
		t.Fatalf("snapshot %s", e.snapshot)
	}

	// New metrics, one with an occurred_at days ago (a late device upload).
	now := e.clk.Now()
	p1 := []string{e.addMetric(pids[1], "weight", now), e.addMetric(pids[1], "heart_rate", now)}
	p0 := []string{e.addMetric(pids[0], "weight", now.Add(-72*time.Hour))}
	p1 = append(p1, e.addMetric(pids[1], "weight", now))
	e.clk.Advance(time.Minute)
	got, err = e.poll(trig, 0)
	if exp := append(slices.Clone(p0), p1...); err != nil || !slices.Equal(got, exp) {
		t.Fatalf("poll 2: %v %v, want %v (patient id order, list order)", got, err, exp)
	}
	want = append(want, got...)

	// Across skip pages: 60 metrics for one patient.
	for range 60 {
		want = append(want, e.addMetric(pids[2], "heart_rate", e.clk.Now()))
	}
	e.clk.Advance(time.Minute)
	if got, err = e.poll(trig, 0); err != nil || len(got) != 60 {
		t.Fatalf("poll 3: %d %v", len(got), err)
	}

	// A poll failing halfway: the second patient's list answers 503.
	a := e.addMetric(pids[0], "weight", e.clk.Now())
	b := e.addMetric(pids[1], "weight", e.clk.Now())
	want = append(want, a, b)
	before := string(e.snapshot)
	e.gate.failWhen(func(r *http.Request) bool {
		return r.URL.Path == "/pub/patient_health_metric" && strings.Contains(r.URL.RawQuery, pids[1])
	})
	got, err = e.poll(trig, 0)
	if err == nil || len(got) != 0 || string(e.snapshot) != before {
		t.Fatalf("failing poll: %v %v", got, err)
	}
	e.gate.failWhen(nil)
	if got, err = e.poll(trig, 0); err != nil || !slices.Equal(got, []string{a, b}) {
		t.Fatalf("poll after the failure: %v %v", got, err)
	}

	// Restart from the stored snapshot.
	e.clients = e.newClients()
	trig = metricsAt(e)
	c := e.addMetric(pids[2], "weight", e.clk.Now())
	want = append(want, c)
	if got, err = e.poll(trig, 0); err != nil || !slices.Equal(got, []string{c}) {
		t.Fatalf("poll after restart: %v %v", got, err)
	}
	checkExactlyOnce(t, e.emitted, want)
	for _, body := range e.bodies {
		var doc struct {
			Data map[string]any `json:"data"`
			Meta map[string]any `json:"meta"`
		}
		if json.Unmarshal(body, &doc) != nil || doc.Data["type"] != "patient_health_metric" || doc.Meta["patient"] == "" {
			t.Fatalf("not a metric document: %s", body)
		}
	}
}

func TestMetricsTypeFilterAndNewPatients(t *testing.T) {
	e := newEnv(t)
	e.cfg[FieldMetricTypes] = "weight, blood_glucose"
	trig := metricsAt(e)
	e.clk.Advance(time.Minute)
	if _, err := e.poll(trig, 0); err != nil {
		t.Fatal(err)
	}
	pid := e.sb.Seeded().PatientIDs[4]
	w := e.addMetric(pid, "weight", e.clk.Now())
	e.addMetric(pid, "heart_rate", e.clk.Now())
	// A patient created after the first poll: its metrics from the start time on.
	newPatient := idOf(e.createPatient("Newcomer"))
	e.addMetric(newPatient, "weight", e.clk.Now().Add(-48*time.Hour))
	n := e.addMetric(newPatient, "blood_glucose", e.clk.Now())
	e.clk.Advance(time.Minute)
	got, err := e.poll(trig, 0)
	want := []string{w, n}
	if pid > newPatient {
		want = []string{n, w}
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v %v, want %v", got, err, want)
	}
	// Once known, the newcomer's late uploads count as new.
	late := e.addMetric(newPatient, "weight", e.clk.Now().Add(-96*time.Hour))
	if got, err = e.poll(trig, 0); err != nil || !slices.Equal(got, []string{late}) {
		t.Fatalf("got %v %v", got, err)
	}
}

func TestMetricsSnapshotStaysWithinBudget(t *testing.T) {
	var patients []string
	pos := map[string]int{}
	for i := range 1000 {
		id := fmt.Sprintf("%024x", i)
		patients = append(patients, id)
		if i%2 == 0 {
			pos[idHash(id)] = 60_000_000 - i // the largest positions the budget assumes
		}
	}
	tracked, untracked := choosePatients(patients, pos, "scope123")
	if untracked == 0 || len(tracked)+untracked != 1000 {
		t.Fatalf("tracked %d untracked %d", len(tracked), untracked)
	}
	full := map[string]int{}
	for _, id := range tracked {
		full[idHash(id)] = 60_000_000
	}
	if b := encodePositions("scope123", full); len(b) > SnapshotBudget {
		t.Fatalf("%d tracked patients make %d bytes", len(tracked), len(b))
	}
	// Patients with positions keep their room before new ones get any.
	for _, id := range tracked {
		if _, ok := pos[idHash(id)]; !ok && len(tracked) <= 500 {
			t.Fatalf("new patient %s tracked while known ones were dropped", id)
		}
	}
}
