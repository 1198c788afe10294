package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/rest"
)

// DefaultMaxPerPoll bounds the resources one poll holds: when the first
// page's meta.count says the window has more, the window's end is pulled
// in (halved) until it fits, and later polls catch up.
const DefaultMaxPerPoll = 2000

// UpdatedTrigger polls a list operation with filter[updated_at] windows and
// emits every new or changed resource once, as a single-resource JSON:API
// document, in (updated_at, id) order.
//
// A poll:
//  1. reads the state from the snapshot (see windowState) and the window
//     [from, to): from = max(wm - lookback, floor), or startTime on the
//     first poll; to = now;
//  2. fetches the whole window with cursor paging (links.next verbatim)
//     before emitting anything, so a request failing halfway emits nothing
//     and the snapshot stays where it was: the next poll repeats the window;
//  3. sorts by (updated_at, id) and emits each version (id, updated_at)
//     that is not in the ledger, with a checkpoint snapshot after every
//     pageSize emitted resources;
//  4. emits the final snapshot: wm = to, the ledger pruned to the versions
//     the next window can return again.
type UpdatedTrigger struct {
	Name       string           // the trigger name (component.json key)
	Op         *rest.Operation  // the list operation; must accept filter[updated_at]
	Now        func() time.Time // the clock (nil: time.Now)
	MaxPerPoll int              // 0: DefaultMaxPerPoll
	// FHIR makes the FHIR output of a resource document (the output
	// field); nil: the trigger has JSON:API output only.
	FHIR func(doc []byte, set settings) ([]byte, error)
}

// Process implements component.Function.
func (t *UpdatedTrigger) Process(ctx context.Context, ex *component.Exec) error {
	return pollError(t.Name, t.poll(ctx, ex))
}

// polled is one resource version of a window.
type polled struct {
	id  string
	at  time.Time // updated_at, milliseconds
	key seenKey
	doc []byte // the message body
}

func (t *UpdatedTrigger) now() time.Time {
	if t.Now != nil {
		return t.Now().UTC().Truncate(time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

func (t *UpdatedTrigger) poll(ctx context.Context, ex *component.Exec) error {
	log := logger(ex)
	now := t.now()
	set, err := readSettings(ex.Cfg, now)
	if err != nil {
		return err
	}
	if set.fhir && t.FHIR == nil {
		return &component.InputError{Field: FieldOutput, Reason: t.Name + " has JSON:API output only"}
	}
	scope := set.scope(t.Name)
	st, resumed := loadWindow(ex.Snapshot, scope)
	from := set.start
	if resumed && !st.fresh() {
		from = st.from(set.lookback)
	}
	if !now.After(from) {
		log.DebugContext(ctx, "poll window is empty", "trigger", t.Name, "from", formatTime(from))
		return nil
	}
	if ex.API == nil {
		return errors.New("no API client provider")
	}
	client, err := ex.API.Client(ctx, ex.Cfg)
	if err != nil {
		return err
	}
	// Narrowing never pulls the window's end below the watermark: the
	// look-back part holds versions already emitted (the ledger's).
	lo := from
	if st.wm.After(lo) {
		lo = st.wm
	}
	items, to, err := t.fetchWindow(ctx, client, set, from, lo, now, len(st.seen), log)
	if err != nil {
		return err
	}
	if st.fresh() {
		st.floor = from // a checkpoint before the first completed poll keeps this start
	}
	emitted, sinceCheckpoint := 0, 0
	for i, it := range items {
		if st.seen[it.key] {
			continue
		}
		if err := t.emit(ctx, ex, it.doc, set); err != nil {
			return err
		}
		st.seen[it.key] = true
		emitted++
		sinceCheckpoint++
		if sinceCheckpoint >= set.pageSize && i+1 < len(items) {
			if b, ok := st.encode(scope, set.lookback, items[i+1].at); ok {
				if err := ex.Emit.Snapshot(ctx, b); err != nil {
					return fmt.Errorf("emit snapshot: %w", err)
				}
				sinceCheckpoint = 0
			}
		}
	}
	st.wm = to
	b, ok := st.encode(scope, set.lookback, time.Time{})
	if !ok {
		return errors.New("the snapshot does not fit its budget")
	}
	if err := ex.Emit.Snapshot(ctx, b); err != nil {
		return fmt.Errorf("emit snapshot: %w", err)
	}
	log.InfoContext(ctx, "poll done", "trigger", t.Name, "from", formatTime(from), "to", formatTime(to),
		"fetched", len(items), "emitted", emitted, "snapshot_bytes", len(b))
	return nil
}

// emit publishes one resource in the output asked for. A resource the FHIR
// mapping refuses gives an error event naming it and the poll goes on.
func (t *UpdatedTrigger) emit(ctx context.Context, ex *component.Exec, doc []byte, set settings) error {
	if set.fhir {
		body, err := t.FHIR(doc, set)
		if err != nil {
			if err := ex.Emit.Error(ctx, err); err != nil {
				return fmt.Errorf("emit: %w", err)
			}
			return nil
		}
		doc = body
	}
	msg := &component.Message{ID: uuid.NewString(), Headers: map[string]any{}, Body: doc}
	if err := ex.Emit.Data(ctx, msg); err != nil {
		return fmt.Errorf("emit: %w", err)
	}
	return nil
}

// errTooMany stops a walk whose window holds more than MaxPerPoll resources.
var errTooMany = errors.New("window too large")

// fetchWindow fetches every resource updated in [from, to). While the
// window holds more than MaxPerPoll resources besides the seen ones, its
// end is pulled in halfway towards lo (not below). It returns the resources
// in (updated_at, id) order, each version once, and the window's end.
func (t *UpdatedTrigger) fetchWindow(ctx context.Context, client component.APIClient, set settings, from, lo, to time.Time,
	seen int, log *slog.Logger) ([]polled, time.Time, error) {
	maxItems := t.MaxPerPoll
	if maxItems <= 0 {
		maxItems = DefaultMaxPerPoll
	}
	for range 48 {
		items, err := t.fetch(ctx, client, set, from, to, to.Sub(lo) > time.Millisecond, maxItems+seen, log)
		if errors.Is(err, errTooMany) {
			to = lo.Add(to.Sub(lo) / 2).Truncate(time.Millisecond)
			log.DebugContext(ctx, "window too large, narrowing it", "trigger", t.Name, "to", formatTime(to))
			continue
		}
		return items, to, err
	}
	return nil, to, errors.New("the window does not narrow")
}

func (t *UpdatedTrigger) fetch(ctx context.Context, client component.APIClient, set settings, from, to time.Time,
	canNarrow bool, maxItems int, log *slog.Logger) ([]polled, error) {
	filter := set.filter()
	filter["updated_at"] = formatTime(from) + ".." + formatTime(to)
	input := map[string]any{"filter": filter, "page": map[string]any{"limit": set.pageSize}}
	var items []polled
	seen := map[seenKey]bool{}
	undated := 0
	res, err := rest.Walk(ctx, t.Op, client, input, rest.WalkOptions{MaxItems: 4 * maxItems, MaxPages: 1 << 20},
		func(pg *rest.Page) error {
			if canNarrow && (pg.Count > maxItems || len(items)+len(pg.Data) > maxItems) {
				return errTooMany
			}
			for _, raw := range pg.Data {
				it, ok, err := t.item(raw, pg.Included)
				if err != nil {
					return err
				}
				if !ok {
					undated++
					continue
				}
				if it.at.Before(from) || !it.at.Before(to) || seen[it.key] {
					continue // outside the window asked for, or a page repeated an item
				}
				seen[it.key] = true
				items = append(items, it)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if undated > 0 {
		log.WarnContext(ctx, "resources without a valid updated_at were skipped", "trigger", t.Name, "skipped", undated)
	}
	if res.Truncated != "" {
		return nil, fmt.Errorf("the window %s..%s holds more than %d resources", formatTime(from), formatTime(to), 4*maxItems)
	}
	slices.SortFunc(items, func(a, b polled) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return items, nil
}

// item reads one resource of a page and makes its message body; ok is
// false for a resource without a valid updated_at (it cannot be placed in a
// window; the poll logs how many were skipped rather than stop the sync).
func (t *UpdatedTrigger) item(raw json.RawMessage, included []json.RawMessage) (polled, bool, error) {
	var r struct {
		ID         string `json:"id"`
		Attributes struct {
			UpdatedAt string `json:"updated_at"`
		} `json:"attributes"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.ID == "" {
		return polled{}, false, fmt.Errorf("a resource of the list has no id")
	}
	at, err := time.Parse(time.RFC3339Nano, r.Attributes.UpdatedAt)
	if err != nil {
		return polled{}, false, nil
	}
	at = at.UTC().Truncate(time.Millisecond)
	doc, err := rest.SingleDocument(raw, included, map[string]any{"trigger": t.Name})
	if err != nil {
		return polled{}, false, fmt.Errorf("resource %s: %w", r.ID, err)
	}
	return polled{id: r.ID, at: at, key: seenKey{at.UnixMilli(), idHash(r.ID)}, doc: doc}, true, nil
}

func logger(ex *component.Exec) *slog.Logger {
	if ex.Log != nil {
		return ex.Log
	}
	return slog.New(slog.DiscardHandler)
}
