package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitbitplus/connector/actions"
	"github.com/fitbitplus/connector/lib/fitbitplus"
	"github.com/fitbitplus/connector/lib/rest"
	"github.com/fitbitplus/connector/lib/sandbox"
)

func metricsAt(e *env) *MetricsTrigger {
	return &MetricsTrigger{Name: "patientHealthMetrics", Patients: actions.FetchPatients,
		Metrics: actions.FetchPatientHealthMetrics, Now: e.clk.Now}
}

func metricBody(patient, typ string, occurred time.Time) map[string]any {
	return map[string]any{"type": "patient_health_metric",
		"attributes":    map[string]any{"type": typ, "value": 70, "unit": "kg", "occurred_at": occurred.Format(time.RFC3339)},
		"relationships": map[string]any{"patient": map[string]any{"data": map[string]any{"type": "patient", "id": patient}}}}
}

// addMetric creates a metric; the sandbox clock moves 1 ms first.
func (e *env) addMetric(patient, typ string, occurred time.Time) string {
	e.clk.Advance(time.Millisecond)
	return fmt.Sprint(e.call("POST", "/patient_health_metric", map[string]any{"data": metricBody(patient, typ, occurred)})["id"])
}

// addMetrics creates n metrics of a patient in one bulk request.
func (e *env) addMetrics(patient string, n int) []string {
	e.t.Helper()
	e.clk.Advance(time.Millisecond)
	var data []any
	for range n {
		data = append(data, metricBody(patient, "heart_rate", e.clk.Now()))
	}
	client, err := e.clients.Client(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"data": data})
	req, _ := http.NewRequest("POST", e.base+"/patient_health_metric", bytes.NewReader(b))
	req.Header.Set("Content-Type", fitbitplus.MediaType)
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Data []struct{ ID string } `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || len(doc.Data) != n {
		e.t.Fatalf("bulk create: %d %v", resp.StatusCode, err)
	}
	var ids []string
	for _, d := range doc.Data {
		ids = append(ids, d.ID)
	}
	return ids
}

// create creates a metric (body: its resource) and returns its id; it may
// run on any goroutine.
func (e *env) create(body map[string]any) (string, error) {
	client, err := e.clients.Client(context.Background(), e.cfg)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(map[string]any{"data": body})
	req, _ := http.NewRequest("POST", e.base+"/patient_health_metric", bytes.NewReader(b))
	req.Header.Set("Content-Type", fitbitplus.MediaType)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var doc struct{ Data struct{ ID string } }
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("create a metric: %d %v", resp.StatusCode, err)
	}
	return doc.Data.ID, nil
}

// addDuring creates a metric through the sandbox's handler while the gate
// serves r (a poll's request), with r's credential; it returns the id.
func (e *env) addDuring(r *http.Request, patient string) string {
	b, _ := json.Marshal(map[string]any{"data": metricBody(patient, "weight", e.clk.Now())})
	req := httptest.NewRequest("POST", sandbox.BasePath+"/patient_health_metric", bytes.NewReader(b))
	req.Header.Set("Content-Type", fitbitplus.MediaType)
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	rec := httptest.NewRecorder()
	e.gate.next.ServeHTTP(rec, req)
	var doc struct{ Data struct{ ID string } }
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &doc) != nil {
		e.t.Errorf("create during a poll: %d %s", rec.Code, rec.Body)
	}
	return doc.Data.ID
}

// metricIDs lists the ids of a patient's metrics (up to 50) in the API's order.
func (e *env) metricIDs(patient string) []string {
	e.t.Helper()
	client, err := e.clients.Client(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.base+"/patient_health_metric?filter[patient]="+patient+"&page[size]=50", nil)
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Data []struct{ ID string } `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, d := range doc.Data {
		ids = append(ids, d.ID)
	}
	return ids
}

func (e *env) metricsState() metricsState {
	e.t.Helper()
	var st metricsState
	if err := json.Unmarshal(e.snapshot, &st); err != nil {
		e.t.Fatalf("snapshot %s: %v", e.snapshot, err)
	}
	return st
}

// isMetricsPage tells a poll's read of a page of patient's metric list
// (not its count).
func isMetricsPage(r *http.Request, patient string) bool {
	q := r.URL.Query()
	return r.URL.Path == "/pub/patient_health_metric" && q.Get("filter[patient]") == patient && q.Get("page[size]") != "0"
}

func TestMetricsEmitNewMetricsExactlyOnce(t *testing.T) {
	e := newEnv(t)
	trig := metricsAt(e)
	pids := slices.Sorted(slices.Values(e.sb.Seeded().PatientIDs[:3]))
	var want []string

	// Poll 1: the seeded metrics were stored before the start time.
	e.clk.Advance(time.Minute)
	got, err := e.poll(trig, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("poll 1: %v %v", got, err)
	}
	if st := e.metricsState(); st.WM == "" || len(st.Sums) != 6*metricBuckets || len(e.snapshot) > SnapshotBudget {
		t.Fatalf("snapshot %s", e.snapshot)
	}

	// New metrics, one with an occurred_at days ago (a late device upload),
	// and two stored in the same second: emitted in the order stored.
	now := e.clk.Now()
	exp := []string{e.addMetric(pids[1], "weight", now), e.addMetric(pids[1], "heart_rate", now),
		e.addMetric(pids[0], "weight", now.Add(-72*time.Hour)), e.addMetric(pids[1], "weight", now)}
	e.clk.Advance(time.Minute)
	if got, err = e.poll(trig, 0); err != nil || !slices.Equal(got, exp) {
		t.Fatalf("poll 2: %v %v, want %v (the order stored)", got, err, exp)
	}
	want = append(want, got...)

	// Across pages: 60 metrics for one patient.
	want = append(want, e.addMetrics(pids[2], 60)...)
	e.clk.Advance(time.Minute)
	if got, err = e.poll(trig, 0); err != nil || len(got) != 60 {
		t.Fatalf("poll 3: %d %v", len(got), err)
	}

	// A poll failing halfway: the counts answer, then a page of the second
	// patient's list answers 503; or a count answers 503. Nothing is
	// emitted, the snapshot stays.
	a := e.addMetric(pids[0], "weight", e.clk.Now())
	b := e.addMetric(pids[1], "weight", e.clk.Now())
	want = append(want, a, b)
	e.clk.Advance(time.Second)
	before := string(e.snapshot)
	for _, fail := range []func(r *http.Request) bool{
		func(r *http.Request) bool { return isMetricsPage(r, pids[1]) },
		func(r *http.Request) bool { return r.URL.Query().Get("filter[patient]") == pids[2] }, // its count
	} {
		e.gate.failWhen(fail)
		got, err = e.poll(trig, 0)
		if err == nil || len(got) != 0 || string(e.snapshot) != before {
			t.Fatalf("failing poll: %v %v", got, err)
		}
	}
	e.gate.failWhen(nil)
	if got, err = e.poll(trig, 0); err != nil || !slices.Equal(got, []string{a, b}) {
		t.Fatalf("poll after the failure: %v %v", got, err)
	}

	// A restart from the stored snapshot.
	e.clients = e.newClients()
	trig = metricsAt(e)
	c := e.addMetric(pids[2], "weight", e.clk.Now())
	want = append(want, c)
	e.clk.Advance(time.Second)
	if got, err = e.poll(trig, 0); err != nil || !slices.Equal(got, []string{c}) {
		t.Fatalf("poll after restart: %v %v", got, err)
	}
	// A metric stored in the second a poll runs is left for the next.
	d := e.addMetric(pids[0], "weight", e.clk.Now())
	want = append(want, d)
	if got, err = e.poll(trig, 0); err != nil || len(got) != 0 {
		t.Fatalf("poll in the second of a new metric: %v %v", got, err)
	}
	e.clk.Advance(time.Second)
	if got, err = e.poll(trig, 0); err != nil || !slices.Equal(got, []string{d}) {
		t.Fatalf("poll after that second: %v %v", got, err)
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
	// A patient created after the first poll: every metric stored since is
	// new, whatever its occurred_at.
	newPatient := idOf(e.createPatient("Newcomer"))
	old := e.addMetric(newPatient, "weight", e.clk.Now().Add(-48*time.Hour))
	n := e.addMetric(newPatient, "blood_glucose", e.clk.Now())
	e.clk.Advance(time.Minute)
	got, err := e.poll(trig, 0)
	if want := []string{w, old, n}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v %v, want %v", got, err, want)
	}
	late := e.addMetric(newPatient, "weight", e.clk.Now().Add(-96*time.Hour))
	e.addMetric(newPatient, "heart_rate", e.clk.Now())
	e.clk.Advance(time.Second)
	if got, err = e.poll(trig, 0); err != nil || !slices.Equal(got, []string{late}) {
		t.Fatalf("got %v %v", got, err)
	}
	// The metrics passed over by the filter are not read as new again.
	e.clk.Advance(time.Minute)
	if got, err = e.poll(trig, 0); err != nil || len(got) != 0 {
		t.Fatalf("got %v %v", got, err)
	}
}

// TestMetricsLargeOrganisation follows an organisation of 10,000 patients
// in one step: metrics added between and during polls, a late upload, two
// metrics stored for one patient at the same moment, a restart; the
// snapshot stays within its budget and the requests within their bound.
func TestMetricsLargeOrganisation(t *testing.T) {
	e := newEnvWith(t, sandbox.Options{Seed: 11, Patients: 10_000, NoValidation: true})
	e.cfg[FieldPageSize] = "100"
	e.direct = true
	e.clients = e.newClients()
	trig := metricsAt(e)
	pids := e.sb.Seeded().PatientIDs
	const listPages = 100 // 10,000 patients, 100 a page

	// Poll 1 reads every list (no state yet; each fits the page that comes
	// with its count), and emits nothing: the seeded metrics were stored
	// before the start time.
	e.clk.Advance(time.Minute)
	e.gate.gets()
	if got, err := e.poll(trig, 0); err != nil || len(got) != 0 {
		t.Fatalf("poll 1: %d %v", len(got), err)
	}
	if n := e.gate.gets(); n != listPages+len(pids) {
		t.Fatalf("poll 1 sent %d requests, want %d", n, listPages+len(pids))
	}

	// Poll 2: nothing new: the counts alone tell.
	e.clk.Advance(time.Minute)
	if got, err := e.poll(trig, 0); err != nil || len(got) != 0 {
		t.Fatalf("poll 2: %d %v", len(got), err)
	}
	if n := e.gate.gets(); n != listPages+len(pids) {
		t.Fatalf("a quiet poll sent %d requests, want %d", n, listPages+len(pids))
	}

	// Between polls: metrics for 30 patients, a late upload, and two
	// metrics of one patient stored at the same moment.
	var want []string
	for i := range 30 {
		want = append(want, e.addMetric(pids[i*331+7], "weight", e.clk.Now()))
	}
	want = append(want, e.addMetric(pids[4242], "weight", e.clk.Now().Add(-30*24*time.Hour)))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			id, err := e.create(metricBody(pids[9000], "heart_rate", e.clk.Now()))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			want = append(want, id)
			mu.Unlock()
		})
	}
	wg.Wait()
	// During the poll: a metric for a patient whose count was read, and one
	// for a patient whose count was not, once half the counts are read.
	var during []string
	counts := 0
	e.gate.beforeEach(func(r *http.Request) {
		if r.URL.Query().Get("page[size]") != "0" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if counts++; counts == len(pids)/2 {
			during = append(during, e.addDuring(r, pids[0]), e.addDuring(r, pids[len(pids)-1]))
		}
	})
	e.clk.Advance(time.Second)
	got, err := e.poll(trig, 0)
	e.gate.beforeEach(nil)
	// All stored in one second: id order is the order stored.
	if err != nil || !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("poll 3 emitted %v %v, want %v", got, err, want)
	}
	// 33 patients changed: the lists of their buckets' patients (about 39
	// a bucket) are read, one page each.
	if n := e.gate.gets(); n > listPages+len(pids)+33*50 {
		t.Fatalf("poll 3 sent %d requests", n)
	}

	// A restart from the snapshot: the metrics stored during poll 3 (in its
	// second, or after their patient's count was read) come now.
	e.clients = e.newClients()
	trig = metricsAt(e)
	last := e.addMetric(pids[5000], "blood_glucose", e.clk.Now())
	e.clk.Advance(time.Second)
	exp := append(slices.Clone(during), last)
	if got, err := e.poll(trig, 0); err != nil || !slices.Equal(got, exp) {
		t.Fatalf("poll after restart: %v %v, want %v", got, err, exp)
	}
	if n := e.gate.gets(); n > listPages+len(pids)+3*50 {
		t.Fatalf("the poll after restart sent %d requests", n)
	}
	want = append(want, exp...)
	checkExactlyOnce(t, e.emitted, want)
	if e.maxSnap > SnapshotBudget {
		t.Fatalf("a snapshot of %d bytes", e.maxSnap)
	}
}

// TestMetricsLateIDs: a metric whose id lags the order the list is stored
// in, by more than the look-back window, is emitted once when a poll finds
// it out of order, and its patient is followed by position from then on.
func TestMetricsLateIDs(t *testing.T) {
	var mu sync.Mutex
	var lag time.Duration
	e := newEnvWith(t, sandbox.Options{Seed: 7, IDTime: func(stored time.Time) time.Time {
		mu.Lock()
		defer mu.Unlock()
		return stored.Add(-lag)
	}})
	addLate := func(patient string) string {
		mu.Lock()
		lag = 10 * time.Minute // twice the look-back window
		mu.Unlock()
		defer func() { mu.Lock(); lag = 0; mu.Unlock() }()
		return e.addMetric(patient, "weight", e.clk.Now())
	}
	trig := metricsAt(e)
	pids := e.sb.Seeded().PatientIDs
	var logs bytes.Buffer
	e.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var want []string
	poll := func(what string, exp ...string) {
		t.Helper()
		e.clk.Advance(time.Minute)
		got, err := e.poll(trig, 0)
		if err != nil || !slices.Equal(got, exp) {
			t.Fatalf("%s: got %v %v, want %v", what, got, err, exp)
		}
		want = append(want, got...)
	}
	poll("first poll")

	// A late id after a newer one: found out of order, emitted, pinned.
	x := pids[2]
	w := e.addMetric(x, "weight", e.clk.Now())
	poll("a new metric", w)
	late := addLate(x)
	poll("a late id", late)
	if st := e.metricsState(); len(st.Pinned) != 1 || st.Pinned[idHash(x)] == "" {
		t.Fatalf("the patient is not pinned: %s", e.snapshot)
	}
	next := e.addMetric(x, "heart_rate", e.clk.Now())
	poll("the pinned patient", next)
	poll("nothing new", []string{}...)

	// A late id at the start of a page, after metrics stored since the last
	// poll on the page before: the counts say three are new, the last page
	// shows one; reading a page further back finds the two and the late id
	// out of order.
	y := pids[3]
	poll("38 new metrics", e.addMetrics(y, 38)...) // 10 seeded: 48 in all
	fresh := e.addMetrics(y, 2)
	late = addLate(y)
	poll("a late id at a page start", append(fresh, late)...)
	more := e.addMetrics(y, 40)
	poll("the pinned patient", more...)
	if strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("warnings: %s", logs.String())
	}

	// A late id right after an older metric cannot be told from one emitted
	// before: the counts tell, and the poll says so.
	z := pids[30] // no seeded metrics
	poll("z's first metric", e.addMetric(z, "weight", e.clk.Now()))
	e.clk.Advance(time.Hour)
	poll("an hour later")
	addLate(z)
	poll("a late id in order")
	if !strings.Contains(logs.String(), "missing=1") {
		t.Fatalf("no warning of the missing metric: %q", logs.String())
	}
	checkExactlyOnce(t, e.emitted, want)
}

// TestMetricsWindowEndPulledIn: a poll holds at most MaxPerPoll new metrics
// (the window's end is pulled in); the next polls catch up, in order.
func TestMetricsWindowEndPulledIn(t *testing.T) {
	e := newEnv(t)
	trig := metricsAt(e)
	trig.MaxPerPoll = 5
	pids := e.sb.Seeded().PatientIDs
	e.clk.Advance(time.Minute)
	if _, err := e.poll(trig, 0); err != nil {
		t.Fatal(err)
	}
	var made []string
	for i := range 12 {
		made = append(made, e.addMetric(pids[i%4], "weight", e.clk.Now()))
		e.clk.Advance(10 * time.Second)
	}
	var got []string
	for range 6 {
		e.clk.Advance(time.Second)
		g, err := e.poll(trig, 0)
		if err != nil || len(g) > 5 {
			t.Fatalf("poll: %d %v", len(g), err)
		}
		got = append(got, g...)
	}
	if !slices.Equal(got, made) {
		t.Fatalf("got %v, want %v", got, made)
	}
	checkExactlyOnce(t, e.emitted, made)
}

// TestMetricsEmitFailure: a message the platform does not take stops the
// poll; the next resumes from the last checkpoint, so what was emitted
// since that checkpoint comes again: nothing when a checkpoint follows every
// message (page size 1).
func TestMetricsEmitFailure(t *testing.T) {
	for _, tc := range []struct {
		pageSize string
		again    int // messages emitted twice
	}{{"1", 0}, {"3", 1}} {
		t.Run("pageSize="+tc.pageSize, func(t *testing.T) {
			e := newEnv(t)
			e.cfg[FieldPageSize] = tc.pageSize
			trig := metricsAt(e)
			pids := e.sb.Seeded().PatientIDs
			e.clk.Advance(time.Minute)
			if _, err := e.poll(trig, 0); err != nil {
				t.Fatal(err)
			}
			var made []string
			for i := range 7 {
				made = append(made, e.addMetric(pids[i%3], "weight", e.clk.Now()))
			}
			e.clk.Advance(time.Second)
			if got, err := e.poll(trig, 5); err == nil || len(got) != 4 {
				t.Fatalf("failing poll: %v %v", got, err)
			}
			got, err := e.poll(trig, 0)
			if err != nil || !slices.Equal(got, made[4-tc.again:]) {
				t.Fatalf("next poll: %v %v, want %v", got, err, made[4-tc.again:])
			}
			if n := len(e.emitted) - len(made); n != tc.again {
				t.Fatalf("%d emitted twice, want %d", n, tc.again)
			}
		})
	}
}

// TestMetricsFormerSnapshot: a snapshot of the former format (a position
// per patient) is honoured once: those patients' metrics after their
// positions are emitted, the others' from the start time; then the window
// takes over.
func TestMetricsFormerSnapshot(t *testing.T) {
	e := newEnv(t)
	trig := metricsAt(e)
	pids := e.sb.Seeded().PatientIDs
	set, err := readSettings(e.cfg, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	// pids[0] has read its 10 seeded metrics, pids[1] 8 of them.
	old, _ := json.Marshal(map[string]any{"v": 1, "scope": set.scope(trig.Name),
		"pos": map[string]string{idHash(pids[0]): "a", idHash(pids[1]): "8"}})
	e.snapshot = old
	fresh := e.addMetric(pids[2], "weight", e.clk.Now())
	e.clk.Advance(time.Minute)
	got, err := e.poll(trig, 0)
	if err != nil {
		t.Fatal(err)
	}
	if list := e.metricIDs(pids[1]); len(list) != 10 || !slices.Equal(got, []string{list[8], list[9], fresh}) {
		t.Fatalf("got %v, want pids[1]'s last two seeded metrics (of %v), then %s", got, list, fresh)
	}
	if st := e.metricsState(); st.Pos != nil || len(st.Pinned) != 0 || st.WM == "" {
		t.Fatalf("snapshot %s", e.snapshot)
	}
	next := e.addMetric(pids[1], "weight", e.clk.Now())
	e.clk.Advance(time.Minute)
	if got, err := e.poll(trig, 0); err != nil || !slices.Equal(got, []string{next}) {
		t.Fatalf("got %v %v", got, err)
	}
}

func TestMetricsSnapshotStaysWithinBudget(t *testing.T) {
	b := &metricsBook{win: &window{seen: map[seenKey]bool{}}}
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	b.win.wm = start.Add(time.Hour)
	for i := range 2000 {
		b.win.seen[seenKey{start.Add(time.Hour - time.Duration(i)*time.Second).UnixMilli(), idHash(fmt.Sprint(i))}] = true
	}
	var sums buckets
	for i := range sums {
		sums[i] = bucket{sum: uint32(i * 977 % (1 << bucketBits)), members: uint32(i*7919) & bucketMask}
	}
	sums[0] = bucket{bucketMask, bucketMask}
	pinned := map[string]int{}
	for i := range maxPinned {
		pinned[idHash(fmt.Sprint("p", i))] = 1<<40 - 1 - i
	}
	raw, ok := b.encode("scope123", 5*time.Minute, time.Time{}, &sums, pinned)
	if !ok || len(raw) > SnapshotBudget {
		t.Fatalf("%d bytes (ok %v)", len(raw), ok)
	}
	back := loadMetricsBook(raw, "scope123")
	if *back.sums != sums || !maps.Equal(back.pinned, pinned) || !back.win.wm.Equal(b.win.wm) || len(back.win.seen) == 0 {
		t.Fatalf("snapshot does not read back: %s", raw)
	}
	// The ledger kept the newest entries; the floor passed the dropped ones.
	for k := range back.win.seen {
		if k.ms < back.win.floor.UnixMilli() {
			t.Fatalf("entry %v below the floor %s", k, back.win.floor)
		}
	}
	if other := loadMetricsBook(raw, "another"); other.sums != nil || !other.win.fresh() || len(other.pinned) != 0 {
		t.Fatal("a snapshot of another scope was reused")
	}
}

func TestReadMetricTime(t *testing.T) {
	pg := &rest.Page{}
	for id, want := range map[string]int64{
		"6632221a0000000000000001": 0x6632221a * 1000,
		"not-an-object-id":         0, // counts as out of order: never taken for old
		"6632221a00000000000000":   0,
	} {
		m, err := readMetric(json.RawMessage(`{"id":"`+id+`"}`), pg, "")
		if err != nil || m.at != want {
			t.Errorf("%s: %d %v, want %d", id, m.at, err, want)
		}
	}
	if _, err := readMetric(json.RawMessage(`{"type":"patient_health_metric"}`), pg, ""); err == nil {
		t.Error("a metric without an id was read")
	}
}

// TestMetricsLateIDsBeyondPinRoom: more patients show late ids than the
// snapshot can pin: every late metric is still emitted (none is lost); the
// poll says some may come again.
func TestMetricsLateIDsBeyondPinRoom(t *testing.T) {
	var mu sync.Mutex
	var lag time.Duration
	e := newEnvWith(t, sandbox.Options{Seed: 7, IDTime: func(stored time.Time) time.Time {
		mu.Lock()
		defer mu.Unlock()
		return stored.Add(-lag)
	}})
	var logs bytes.Buffer
	e.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	trig := metricsAt(e)
	pids := e.sb.Seeded().PatientIDs[:maxPinned+1]
	e.clk.Advance(time.Minute)
	if _, err := e.poll(trig, 0); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range pids {
		want = append(want, e.addMetric(p, "weight", e.clk.Now()))
	}
	e.clk.Advance(time.Minute)
	if got, err := e.poll(trig, 0); err != nil || len(got) != len(pids) {
		t.Fatalf("got %d %v", len(got), err)
	}
	mu.Lock()
	lag = 10 * time.Minute
	mu.Unlock()
	var late []string
	for _, p := range pids {
		late = append(late, e.addMetric(p, "weight", e.clk.Now()))
	}
	e.clk.Advance(time.Minute)
	got, err := e.poll(trig, 0)
	if err != nil || !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(late))) {
		t.Fatalf("got %v %v, want every late metric %v", got, err, late)
	}
	if st := e.metricsState(); len(st.Pinned) != maxPinned || len(e.snapshot) > SnapshotBudget {
		t.Fatalf("%d pinned, %d bytes", len(st.Pinned), len(e.snapshot))
	}
	if !strings.Contains(logs.String(), "no room to follow them by position") || !strings.Contains(logs.String(), "patients=1") {
		t.Fatalf("no warning: %q", logs.String())
	}
	checkExactlyOnce(t, e.emitted, append(want, late...))
}
