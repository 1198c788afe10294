package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fitbitplus/connector/actions"
	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/sandbox"
)

func patientsAt(e *env) *UpdatedTrigger {
	return &UpdatedTrigger{Name: "patients", Op: actions.FetchPatients, Now: e.clk.Now}
}

// TestPatientsEmitEveryVersionExactlyOnce walks the scenario against
// the sandbox: inserts and updates between polls, equal timestamps across a
// page boundary, a record visible late inside the look-back window, a poll
// failing halfway, and a restart from the stored snapshot.
func TestPatientsEmitEveryVersionExactlyOnce(t *testing.T) {
	e := newEnv(t)
	trig := patientsAt(e)
	var want []string

	// Poll 1: nothing changed since the start time (the seed is older).
	e.clk.Advance(time.Minute)
	got, err := e.poll(trig, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("poll 1: %v %v", got, err)
	}

	// Four patients with one timestamp (page size 3: a page boundary inside
	// the group), then two more a second later.
	for _, n := range []string{"A", "B", "C", "D"} {
		want = append(want, e.createPatient(n))
	}
	e.clk.Advance(time.Second)
	want = append(want, e.createPatient("E"), e.createPatient("F"))
	e.clk.Advance(time.Minute)
	got, err = e.poll(trig, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("poll 2 emitted %v", got)
	}
	checkOrdered(t, got)

	// Updates of two, one new patient, one new patient that the list shows
	// only later (late visibility).
	e.clk.Advance(10 * time.Second)
	want = append(want, e.updatePatient(idOf(want[0]), "A2"), e.updatePatient(idOf(want[4]), "E2"))
	late := e.createPatient("Late")
	e.gate.hide(idOf(late))
	want = append(want, late)
	e.clk.Advance(time.Second)
	want = append(want, e.createPatient("G"))
	e.clk.Advance(time.Minute)
	got, err = e.poll(trig, 0)
	if err != nil || len(got) != 3 || slices.Contains(got, late) {
		t.Fatalf("poll 3: %v %v", got, err)
	}
	checkOrdered(t, got)

	// The late one becomes visible inside the look-back window.
	e.gate.release(idOf(late))
	e.clk.Advance(2 * time.Minute)
	got, err = e.poll(trig, 0)
	if err != nil || !slices.Equal(got, []string{late}) {
		t.Fatalf("poll 4 (late record): %v %v", got, err)
	}

	// A poll failing halfway: the second page answers 503 until repaired.
	e.clk.Advance(time.Second)
	for _, n := range []string{"H", "I", "J", "K", "L", "M", "N"} {
		want = append(want, e.createPatient(n))
	}
	e.clk.Advance(time.Minute)
	before := string(e.snapshot)
	e.gate.failWhen(func(r *http.Request) bool { return strings.Contains(r.URL.RawQuery, "cursor") })
	got, err = e.poll(trig, 0)
	if err == nil || len(got) != 0 || string(e.snapshot) != before {
		t.Fatalf("failing poll: emitted %v, err %v, snapshot moved %v", got, err, string(e.snapshot) != before)
	}
	if component.IsRebound(err) {
		t.Fatalf("a failed poll must be an error event, not a rebound: %v", err)
	}
	e.gate.failWhen(nil)
	got, err = e.poll(trig, 0)
	if err != nil || len(got) != 7 {
		t.Fatalf("poll after the failure: %v %v", got, err)
	}

	// Restart: a new process (new clients, new trigger value) from the
	// stored snapshot.
	e.clients = e.newClients()
	trig = patientsAt(e)
	e.clk.Advance(30 * time.Second)
	want = append(want, e.updatePatient(idOf(want[1]), "B2"))
	e.clk.Advance(30 * time.Second)
	got, err = e.poll(trig, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("poll after restart: %v %v", got, err)
	}
	// A quiet poll emits nothing.
	e.clk.Advance(time.Minute)
	if got, err = e.poll(trig, 0); err != nil || len(got) != 0 {
		t.Fatalf("quiet poll: %v %v", got, err)
	}

	checkExactlyOnce(t, e.emitted, want)
	for _, b := range e.bodies {
		s := string(b)
		if strings.Contains(s, sandbox.DefaultClientSecret) || strings.Contains(s, "access_token") ||
			strings.Contains(strings.ToLower(s), "bearer") {
			t.Fatalf("credential material in a message: %s", s)
		}
		var doc struct {
			Data map[string]any `json:"data"`
			Meta map[string]any `json:"meta"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || doc.Data["type"] != "patient" || doc.Meta["trigger"] != "patients" {
			t.Fatalf("not a single patient document: %s", s)
		}
	}
	if e.maxSnap > SnapshotBudget {
		t.Fatalf("a snapshot of %d bytes", e.maxSnap)
	}
}

// TestEmitFailureResumesFromLastCheckpoint: when publishing fails mid-poll,
// the next poll resumes after the last checkpoint: nothing is lost and at
// most the messages since that checkpoint are repeated.
func TestEmitFailureResumesFromLastCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.cfg[FieldPageSize] = "2"
	trig := patientsAt(e)
	var want []string
	for i := range 7 {
		e.clk.Advance(time.Second)
		want = append(want, e.createPatient(string(rune('a'+i))))
	}
	e.clk.Advance(time.Minute)
	got, err := e.poll(trig, 6)
	if err == nil || len(got) != 5 {
		t.Fatalf("poll with a failing publish: %v %v", got, err)
	}
	got, err = e.poll(trig, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Checkpoints after 2 and 4 messages: message 5 is repeated, 6 and 7 are new.
	if !slices.Equal(got, want[4:]) {
		t.Fatalf("resumed poll emitted %v, want %v", got, want[4:])
	}
}

// TestWindowNarrowsWhenTooLarge: a window with more resources than
// MaxPerPoll is cut; later polls catch up without loss or repetition.
func TestWindowNarrowsWhenTooLarge(t *testing.T) {
	e := newEnv(t)
	e.cfg[FieldPageSize] = "50"
	trig := patientsAt(e)
	trig.MaxPerPoll = 10
	var want []string
	for i := range 35 {
		e.clk.Advance(time.Second)
		want = append(want, e.createPatient("p"+string(rune('a'+i%26))))
	}
	e.clk.Advance(time.Minute)
	for i := 0; i < 10 && len(e.emitted) < len(want); i++ {
		got, err := e.poll(trig, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 10 {
			t.Fatalf("poll %d emitted %d > MaxPerPoll", i, len(got))
		}
	}
	checkExactlyOnce(t, e.emitted, want)
}

// TestSnapshotStaysWithinBudgetUnderChurn: hundreds of versions inside the
// look-back window, many with equal timestamps; the snapshot stays under
// 5 KB and nothing is repeated or lost.
func TestSnapshotStaysWithinBudgetUnderChurn(t *testing.T) {
	e := newEnv(t)
	e.cfg[FieldPageSize] = "100"
	e.cfg[FieldLookback] = "1h"
	trig := patientsAt(e)
	var want, ids []string
	for round := range 4 {
		for i := range 120 {
			if i%3 == 0 {
				e.clk.Advance(time.Millisecond) // groups of three equal timestamps
			}
			if round > 0 && i < len(ids) {
				want = append(want, e.updatePatient(ids[i], "u"))
				continue
			}
			v := e.createPatient("c")
			ids = append(ids, idOf(v))
			want = append(want, v)
		}
		e.clk.Advance(time.Second)
		if _, err := e.poll(trig, 0); err != nil {
			t.Fatal(err)
		}
	}
	e.clk.Advance(time.Minute)
	if got, err := e.poll(trig, 0); err != nil || len(got) != 0 {
		t.Fatalf("quiet poll after churn: %d emitted, %v", len(got), err)
	}
	checkExactlyOnce(t, e.emitted, want)
	if e.maxSnap > SnapshotBudget || e.maxSnap > 5*1024 {
		t.Fatalf("largest snapshot %d bytes", e.maxSnap)
	}
	var st windowState
	if err := json.Unmarshal(e.snapshot, &st); err != nil || st.V != 1 || st.WM == "" || len(st.Seen) == 0 {
		t.Fatalf("snapshot %s", e.snapshot)
	}
}

func TestCalendarEventsTrigger(t *testing.T) {
	e := newEnv(t)
	trig := &UpdatedTrigger{Name: "calendarEvents", Op: actions.FetchCalendarEvents, Now: e.clk.Now}
	patient := e.sb.Seeded().PatientID
	event := func(title string) map[string]any {
		return map[string]any{"data": map[string]any{"type": "calendar_event",
			"attributes": map[string]any{"title": title, "type": "reminder",
				"start_at": "2024-06-01T09:00:00Z", "end_at": "2024-06-01T09:30:00Z",
				"attendees": []any{map[string]any{"type": "patient", "id": patient}}},
			"relationships": map[string]any{"owner": map[string]any{"data": map[string]any{"type": "patient", "id": patient}}}}}
	}
	e.clk.Advance(time.Minute)
	var want []string
	for _, title := range []string{"one", "two", "three", "four"} {
		want = append(want, version(e.call("POST", "/calendar_event", event(title))))
	}
	e.clk.Advance(time.Minute)
	got, err := e.poll(trig, 0)
	if err != nil || len(got) != 4 {
		t.Fatalf("poll 1: %v %v", got, err)
	}
	e.clk.Advance(time.Minute)
	id := idOf(want[2])
	upd := map[string]any{"data": map[string]any{"type": "calendar_event", "id": id,
		"attributes": map[string]any{"title": "three, moved"}}}
	want = append(want, version(e.call("PATCH", "/calendar_event/"+id, upd)))
	e.clk.Advance(time.Minute)
	got, err = e.poll(trig, 0)
	if err != nil || !slices.Equal(got, want[4:]) {
		t.Fatalf("poll 2: %v %v", got, err)
	}
	checkExactlyOnce(t, e.emitted, want)
}

func TestSettingsAreValidated(t *testing.T) {
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		cfg   component.Config
		field string
	}{
		{component.Config{}, FieldOrganization},
		{component.Config{FieldGroups: " , "}, FieldOrganization},
		{component.Config{FieldOrganization: "o", FieldStartTime: "yesterday"}, FieldStartTime},
		{component.Config{FieldOrganization: "o", FieldLookback: "soon"}, FieldLookback},
		{component.Config{FieldOrganization: "o", FieldLookback: "48h"}, FieldLookback},
		{component.Config{FieldOrganization: "o", FieldPageSize: "0"}, FieldPageSize},
		{component.Config{FieldOrganization: "o", FieldPageSize: "500"}, FieldPageSize},
	} {
		_, err := readSettings(tc.cfg, now)
		var ie *component.InputError
		if !errors.As(err, &ie) || ie.Field != tc.field {
			t.Errorf("%v: want an InputError naming %s, got %v", tc.cfg, tc.field, err)
		}
	}
	s, err := readSettings(component.Config{FieldGroups: "g2, g1", FieldLookback: "90"}, now)
	if err != nil || s.groups != "g2,g1" || s.lookback != 90*time.Second || s.pageSize != DefaultPageSize ||
		!s.start.Equal(now.Add(-DefaultStartAgo)) {
		t.Fatalf("got %+v %v", s, err)
	}
}

func TestEncodeTrimsWholeTimestampGroups(t *testing.T) {
	wm := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	w := &window{wm: wm, seen: map[seenKey]bool{}}
	for i := range 2000 {
		w.seen[seenKey{wm.Add(-time.Duration(i/4) * time.Millisecond).UnixMilli(), idHash(string(rune(i)) + "x")}] = true
	}
	b, ok := w.encode("scope", time.Hour, time.Time{})
	if !ok || len(b) > SnapshotBudget {
		t.Fatalf("encode: %d bytes, %v", len(b), ok)
	}
	// Every kept entry is at or above the floor, every timestamp group is
	// whole (4 entries), and the floor is past every dropped entry.
	groups := map[int64]int{}
	for k := range w.seen {
		if k.ms < w.floor.UnixMilli() {
			t.Fatalf("entry %v below floor %v", k, w.floor)
		}
		groups[k.ms]++
	}
	for ms, n := range groups {
		if n != 4 {
			t.Fatalf("group %d has %d entries", ms, n)
		}
	}
	if w.floor.IsZero() || !w.floor.After(wm.Add(-time.Hour)) {
		t.Fatalf("floor %v", w.floor)
	}
	// A checkpoint may not raise the floor past the next resource to emit.
	w2 := &window{wm: wm, seen: map[seenKey]bool{}}
	for i := range 1000 {
		w2.seen[seenKey{wm.UnixMilli(), idHash(string(rune(i)))}] = true
	}
	if _, ok := w2.encode("scope", time.Hour, wm); ok {
		t.Fatal("a checkpoint dropped entries of the timestamp still being emitted")
	}
}

// TestFetchAllActionAgainstSandbox: the paged list action with fetchAll and
// split walks the sandbox's cursor links to the end and checks meta.count.
func TestFetchAllActionAgainstSandbox(t *testing.T) {
	e := newEnv(t)
	cfg := maps.Clone(e.cfg)
	cfg["fetchAll"], cfg["split"] = "on", "on"
	em := &stepEmitter{e: e}
	ex := &component.Exec{Msg: &component.Message{Body: json.RawMessage(
		`{"filter":{"organization":"` + e.sb.Seeded().OrganizationID + `"},"page":{"limit":7}}`)},
		Cfg: cfg, Emit: em, API: e.clients}
	if err := actions.FetchPatients.Process(context.Background(), ex); err != nil {
		t.Fatal(err)
	}
	n := len(e.sb.Seeded().PatientIDs)
	if len(em.data) != n {
		t.Fatalf("%d messages for %d patients", len(em.data), n)
	}
	var last struct{ Meta map[string]any }
	_ = json.Unmarshal(em.data[n-1].Body, &last)
	if last.Meta["complete"] != true || last.Meta["fetched"] != float64(n) {
		t.Fatalf("last meta %v", last.Meta)
	}
}
