package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fhir"
	"github.com/fitbitplus/connector/lib/rest"
)

// metricPageSize is the page[size] of the metric lists (the API's maximum).
const metricPageSize = 50

// maxPatients bounds the patient list one poll reads.
const maxPatients = 20000

// metricsState is the snapshot of the metrics trigger:
//
//	{"v":1, "scope":"…", "pos":{"<patient id hash>":"<count, base 36>", …}}
//
// pos holds, per patient, how many metrics of the patient's list (in the
// API's order, oldest first) have been consumed: emitted, or passed over
// by the type filter or the start time of a patient's first poll.
type metricsState struct {
	V     int               `json:"v"`
	Scope string            `json:"scope"`
	Pos   map[string]string `json:"pos,omitempty"`
}

// posEntryBytes is the budget of one pos entry: "hash8":"count" with up to
// five base-36 digits (60 million metrics) and a comma.
const posEntryBytes = 8 + 2 + 1 + 5 + 2 + 1

// MetricsTrigger emits the new health metrics of the patients of an
// organization or groups, optionally only some metric types.
//
// Metrics have no time filter, no update and no delete in the API, so the
// list of a patient only grows at its end. The trigger keeps, per patient,
// the number of metrics consumed, and reads only what follows: skip paging
// (page[size] 50, page[number] computed from the position, then links.next
// verbatim). A patient seen for the first time has its metrics emitted from
// startTime on (by occurred_at); after that, every metric appended to the
// list is new, whatever its occurred_at (late device uploads included).
//
// A poll fetches every patient's new metrics before emitting any (at most
// MaxPerPoll; the patients left over are read next poll), so a request
// failing halfway emits nothing and leaves the snapshot as it was. Then it
// emits them patient by patient in id order, each list in its order, with a
// checkpoint snapshot after every pageSize metrics, and a final snapshot.
//
// The snapshot holds positions for at most about 250 patients (5 KB):
// patients beyond that (by id order, after those already tracked) are not
// polled, and each poll logs a warning naming how many. Split a larger
// organization over several steps with the groups field.
type MetricsTrigger struct {
	Name       string
	Patients   *rest.Operation // fetchPatients
	Metrics    *rest.Operation // fetchPatientHealthMetrics
	Now        func() time.Time
	MaxPerPoll int // 0: DefaultMaxPerPoll
}

// Process implements component.Function.
func (t *MetricsTrigger) Process(ctx context.Context, ex *component.Exec) error {
	return pollError(t.Name, t.poll(ctx, ex))
}

// newMetric is one metric fetched in this poll, or a position marker.
type newMetric struct {
	patient string
	pos     int    // the patient's position after this metric
	doc     []byte // nil: consumed without emitting (filtered)
	err     error  // the metric cannot be emitted as asked (FHIR output): an error event instead
}

func (t *MetricsTrigger) poll(ctx context.Context, ex *component.Exec) error {
	log := logger(ex)
	now := time.Now()
	if t.Now != nil {
		now = t.Now()
	}
	set, err := readSettings(ex.Cfg, now.UTC().Truncate(time.Millisecond))
	if err != nil {
		return err
	}
	scope := set.scope(t.Name)
	pos := loadPositions(ex.Snapshot, scope)
	if ex.API == nil {
		return errors.New("no API client provider")
	}
	client, err := ex.API.Client(ctx, ex.Cfg)
	if err != nil {
		return err
	}
	patients, err := t.patients(ctx, client, set)
	if err != nil {
		return err
	}
	tracked, untracked := choosePatients(patients, pos, scope)
	if untracked > 0 {
		log.WarnContext(ctx, "patients not polled: the snapshot has no room for their positions; split the step by groups",
			"trigger", t.Name, "patients", len(patients), "not_polled", untracked)
	}
	// Keep only the tracked patients' positions.
	kept := map[string]int{}
	for _, id := range tracked {
		if n, ok := pos[idHash(id)]; ok {
			kept[idHash(id)] = n
		}
	}
	pos = kept

	maxItems := t.MaxPerPoll
	if maxItems <= 0 {
		maxItems = DefaultMaxPerPoll
	}
	var fetched []newMetric
	for _, id := range tracked {
		room := maxItems - len(fetched)
		if room <= 0 {
			break
		}
		n, known := pos[idHash(id)]
		got, err := t.fetchPatient(ctx, client, set, id, n, known, room, log)
		if err != nil {
			return err
		}
		fetched = append(fetched, got...)
	}

	emitted, sinceCheckpoint := 0, 0
	for _, m := range fetched {
		if m.err != nil {
			// One metric the mapping refuses must not stop the sync: it is
			// reported and passed over, and the position moves on.
			if err := ex.Emit.Error(ctx, m.err); err != nil {
				return fmt.Errorf("emit: %w", err)
			}
		}
		if m.doc != nil {
			msg := &component.Message{ID: uuid.NewString(), Headers: map[string]any{}, Body: m.doc}
			if err := ex.Emit.Data(ctx, msg); err != nil {
				return fmt.Errorf("emit: %w", err)
			}
			emitted++
			sinceCheckpoint++
		}
		pos[idHash(m.patient)] = m.pos
		if sinceCheckpoint >= set.pageSize {
			if err := ex.Emit.Snapshot(ctx, encodePositions(scope, pos)); err != nil {
				return fmt.Errorf("emit snapshot: %w", err)
			}
			sinceCheckpoint = 0
		}
	}
	b := encodePositions(scope, pos)
	if err := ex.Emit.Snapshot(ctx, b); err != nil {
		return fmt.Errorf("emit snapshot: %w", err)
	}
	log.InfoContext(ctx, "poll done", "trigger", t.Name, "patients", len(tracked), "emitted", emitted,
		"snapshot_bytes", len(b))
	return nil
}

// patients lists the ids of the patients in scope, sorted.
func (t *MetricsTrigger) patients(ctx context.Context, client component.APIClient, set settings) ([]string, error) {
	input := map[string]any{"filter": set.filter(), "page": map[string]any{"limit": set.pageSize}}
	var ids []string
	res, err := rest.Walk(ctx, t.Patients, client, input, rest.WalkOptions{MaxItems: maxPatients, MaxPages: 1 << 20},
		func(pg *rest.Page) error {
			for _, raw := range pg.Data {
				var r struct {
					ID string `json:"id"`
				}
				if json.Unmarshal(raw, &r) == nil && r.ID != "" {
					ids = append(ids, r.ID)
				}
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if res.Truncated != "" {
		return nil, fmt.Errorf("more than %d patients in scope: split the step by groups", maxPatients)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// choosePatients returns the patients to poll (sorted): those with a stored
// position first claim room in the snapshot, then new ones in id order.
func choosePatients(patients []string, pos map[string]int, scope string) ([]string, int) {
	room := (SnapshotBudget - len(encodePositions(scope, nil)) - 16) / posEntryBytes
	var tracked, fresh []string
	for _, id := range patients {
		if _, ok := pos[idHash(id)]; ok {
			tracked = append(tracked, id)
		} else {
			fresh = append(fresh, id)
		}
	}
	if len(tracked) > room {
		tracked = tracked[:room]
	}
	n := min(len(fresh), room-len(tracked))
	tracked = append(tracked, fresh[:n]...)
	slices.Sort(tracked)
	return tracked, len(patients) - len(tracked)
}

// fetchPatient reads the metrics after position n (all from the start when
// the patient is new), at most room of them.
func (t *MetricsTrigger) fetchPatient(ctx context.Context, client component.APIClient, set settings, patient string,
	n int, known bool, room int, log *slog.Logger) ([]newMetric, error) {
	if !known {
		n = 0
	}
	input := map[string]any{"filter": map[string]any{"patient": patient},
		"page": map[string]any{"size": metricPageSize, "number": n/metricPageSize + 1}}
	skip := n % metricPageSize
	var out []newMetric
	position := n
	shrunk := false
	_, err := rest.Walk(ctx, t.Metrics, client, input, rest.WalkOptions{MaxItems: room + skip, MaxPages: 1 << 20},
		func(pg *rest.Page) error {
			data := pg.Data
			if pg.Number == 1 {
				if pg.Count >= 0 && pg.Count < n || len(data) < skip {
					shrunk = true
					return errShrunk
				}
				data = data[skip:]
			}
			for _, raw := range data {
				position++
				doc, err := t.metricDoc(raw, pg.Included, patient, set, known)
				if err != nil {
					return err
				}
				m := newMetric{patient: patient, pos: position, doc: doc}
				if doc != nil && set.fhir {
					m.doc, m.err = observation(doc, reqID(pg), set.bundle)
				}
				out = append(out, m)
			}
			return nil
		})
	if shrunk {
		log.WarnContext(ctx, "a patient's metric list is shorter than the stored position; the position is reset to its end",
			"trigger", t.Name)
		return t.resetPosition(ctx, client, patient)
	}
	if err != nil {
		return nil, err
	}
	if !known && len(out) == 0 {
		// Remember the patient, so that its first metric counts as new
		// whatever its occurred_at.
		out = append(out, newMetric{patient: patient, pos: 0})
	}
	return out, nil
}

var errShrunk = errors.New("metric list shrank")

// resetPosition moves a patient's position to the end of its list without
// emitting (the list lost metrics, which the API has no way to do).
func (t *MetricsTrigger) resetPosition(ctx context.Context, client component.APIClient, patient string) ([]newMetric, error) {
	input := map[string]any{"filter": map[string]any{"patient": patient}, "page": map[string]any{"size": 0}}
	res, err := rest.Walk(ctx, t.Metrics, client, input, rest.WalkOptions{Single: true}, func(*rest.Page) error { return nil })
	if err != nil {
		return nil, err
	}
	if res.Count < 0 {
		return nil, errors.New("the metric list gives no meta.count")
	}
	return []newMetric{{patient: patient, pos: res.Count}}, nil
}

// metricDoc makes the message body of a metric, or nil when the type filter
// or (for a patient's first poll) the start time passes over it.
func (t *MetricsTrigger) metricDoc(raw json.RawMessage, included []json.RawMessage, patient string, set settings,
	known bool) ([]byte, error) {
	var m struct {
		ID         string `json:"id"`
		Attributes struct {
			Type       string `json:"type"`
			OccurredAt string `json:"occurred_at"`
		} `json:"attributes"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("a metric of the list is not a resource")
	}
	if len(set.metricTypes) > 0 && !slices.Contains(set.metricTypes, m.Attributes.Type) {
		return nil, nil
	}
	if !known {
		at, err := time.Parse(time.RFC3339Nano, m.Attributes.OccurredAt)
		if err != nil || at.Before(set.start) {
			return nil, nil
		}
	}
	doc, err := rest.SingleDocument(raw, included, map[string]any{"trigger": t.Name, "patient": patient})
	if err != nil {
		return nil, fmt.Errorf("metric %s: %w", m.ID, err)
	}
	return doc, nil
}

func loadPositions(raw json.RawMessage, scope string) map[string]int {
	out := map[string]int{}
	var st metricsState
	if len(raw) == 0 || json.Unmarshal(raw, &st) != nil || st.V != stateVersion || st.Scope != scope {
		return out
	}
	for k, v := range st.Pos {
		if n, err := strconv.ParseInt(v, 36, 64); err == nil && n >= 0 && n < 1<<40 {
			out[k] = int(n)
		}
	}
	return out
}

func encodePositions(scope string, pos map[string]int) []byte {
	st := metricsState{V: stateVersion, Scope: scope, Pos: make(map[string]string, len(pos))}
	for k, n := range pos {
		st.Pos[k] = strconv.FormatInt(int64(n), 36)
	}
	b, _ := json.Marshal(st)
	return b
}

// reqID is the page's meta.req_id, the provenance of its metrics.
func reqID(pg *rest.Page) string {
	var id string
	_ = json.Unmarshal(pg.Meta["req_id"], &id)
	return id
}

// observation turns a metric's single-resource document into the JSON of a
// FHIR R4 Observation, or of a transaction Bundle holding it. The error
// names the metric and what the mapping lacks (type, code or unit), never a
// value.
func observation(doc []byte, reqID string, bundle bool) ([]byte, error) {
	obs, err := fhir.ToObservation(doc, fhir.ToOptions{RequestID: reqID})
	if err == nil && bundle {
		var b *fhir.Bundle
		if b, err = fhir.TransactionBundle(nil, nil, []*fhir.Observation{obs}); err == nil {
			return json.Marshal(b)
		}
	}
	if err != nil {
		var id struct {
			Data struct{ ID string } `json:"data"`
		}
		_ = json.Unmarshal(doc, &id)
		return nil, fmt.Errorf("metric %s cannot be expressed as a FHIR Observation: %w", id.Data.ID, err)
	}
	return json.Marshal(obs)
}
