package triggers

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SnapshotBudget bounds every snapshot the triggers emit, in bytes of JSON.
// The platform keeps at most 5 KB per step; the rest is margin.
const SnapshotBudget = 4800

// stateVersion is the v of the snapshots; another version starts afresh.
const stateVersion = 1

// windowState is the snapshot of the updated_at triggers, e.g.
//
//	{"v":1,"scope":"…","wm":"2024-05-01T10:00:00.000Z","floor":"…","seen":["<ms36>.<idhash>",…]}
//
// wm is the end of the last completed window (exclusive), absent before the
// first completed poll. floor is a lower bound of the next window: the start
// time before the first completed poll, or set past the entries dropped when
// the ledger had to be trimmed to the budget. seen is the ledger: updated_at
// (Unix ms, base 36) and a 48-bit hash of the id of every version emitted
// whose updated_at is not below the next window's start. The next window
// starts at max(wm - lookback, floor).
type windowState struct {
	V     int      `json:"v"`
	Scope string   `json:"scope"`
	WM    string   `json:"wm,omitempty"`
	Floor string   `json:"floor,omitempty"`
	Seen  []string `json:"seen,omitempty"`
}

// seenKey is one ledger entry: a version of a resource.
type seenKey struct {
	ms   int64  // updated_at, Unix milliseconds
	hash string // idHash of the id
}

func (k seenKey) String() string { return strconv.FormatInt(k.ms, 36) + "." + k.hash }

func compareSeen(a, b seenKey) int {
	if c := cmp.Compare(a.ms, b.ms); c != 0 {
		return c
	}
	return cmp.Compare(a.hash, b.hash)
}

func parseSeen(s string) (seenKey, bool) {
	a, h, ok := strings.Cut(s, ".")
	if !ok || h == "" {
		return seenKey{}, false
	}
	ms, err := strconv.ParseInt(a, 36, 64)
	return seenKey{ms, h}, err == nil
}

// idHash is a short stable hash of a resource id (48 bits, 8 characters):
// the ledger needs to recognise ids, not to store them.
func idHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

// window is the in-memory form of windowState.
type window struct {
	wm    time.Time // zero: no completed poll
	floor time.Time // zero: none
	seen  map[seenKey]bool
}

func (w *window) fresh() bool { return w.wm.IsZero() && w.floor.IsZero() }

// from is the start of the next window.
func (w *window) from(lookback time.Duration) time.Time {
	var f time.Time
	if !w.wm.IsZero() {
		f = w.wm.Add(-lookback)
	}
	if w.floor.After(f) {
		f = w.floor
	}
	return f
}

// loadWindow reads a snapshot; one of another version or scope, or not
// readable, gives a fresh state (ok false).
func loadWindow(raw json.RawMessage, scope string) (*window, bool) {
	var st windowState
	if len(raw) == 0 || json.Unmarshal(raw, &st) != nil {
		return &window{seen: map[seenKey]bool{}}, false
	}
	return st.window(scope)
}

// window reads the state of a snapshot made for scope (ok false, and a
// fresh state, when it is of another version or scope, or not readable).
func (st *windowState) window(scope string) (*window, bool) {
	w := &window{seen: map[seenKey]bool{}}
	if st.V != stateVersion || st.Scope != scope {
		return w, false
	}
	if st.WM != "" {
		t, err := time.Parse(time.RFC3339Nano, st.WM)
		if err != nil {
			return &window{seen: map[seenKey]bool{}}, false
		}
		w.wm = t
	}
	if st.Floor != "" {
		t, err := time.Parse(time.RFC3339Nano, st.Floor)
		if err != nil {
			return &window{seen: map[seenKey]bool{}}, false
		}
		w.floor = t
	}
	for _, s := range st.Seen {
		if k, ok := parseSeen(s); ok {
			w.seen[k] = true
		}
	}
	return w, true
}

// encode makes the snapshot of w: ledger entries below the next window's
// start are pruned; when the rest does not fit SnapshotBudget, whole
// timestamp groups are dropped oldest first and floor is raised past them.
// limit (when not zero) is the updated_at of the first version not yet
// emitted: the floor must not pass it, else encode reports false (the
// caller skips that checkpoint). w is updated to what was encoded.
func (w *window) encode(scope string, lookback time.Duration, limit time.Time) ([]byte, bool) {
	return w.encodeWith(scope, lookback, limit, func(st windowState) any { return st })
}

// encodeWith is encode for a trigger whose snapshot holds more than the
// window: wrap makes the value to marshal from the window's part.
func (w *window) encodeWith(scope string, lookback time.Duration, limit time.Time, wrap func(windowState) any) ([]byte, bool) {
	start := w.from(lookback).UnixMilli()
	keys := make([]seenKey, 0, len(w.seen))
	for k := range w.seen {
		if k.ms >= start {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareSeen)
	entries := make([]string, len(keys))
	for i, k := range keys {
		entries[i] = k.String()
	}
	floor, drop := w.floor, 0
	for {
		st := windowState{V: stateVersion, Scope: scope, Seen: entries[drop:]}
		if !w.wm.IsZero() {
			st.WM = formatTime(w.wm)
		}
		if !floor.IsZero() && (w.wm.IsZero() || floor.After(w.wm.Add(-lookback))) {
			st.Floor = formatTime(floor)
		}
		b, err := json.Marshal(wrap(st))
		if err != nil {
			return nil, false
		}
		if len(b) <= SnapshotBudget {
			w.floor = floor
			w.seen = make(map[seenKey]bool, len(keys)-drop)
			for _, k := range keys[drop:] {
				w.seen[k] = true
			}
			return b, true
		}
		if drop == len(keys) {
			return nil, false // only a huge scope string (or wrap's part) could get here
		}
		// Drop at least the bytes over the budget, then the rest of the
		// last timestamp group dropped: a group is kept or dropped whole.
		for removed, over := 0, len(b)-SnapshotBudget; drop < len(keys) && removed < over; drop++ {
			removed += len(entries[drop]) + 3
		}
		for drop < len(keys) && keys[drop].ms == keys[drop-1].ms {
			drop++
		}
		floor = time.UnixMilli(keys[drop-1].ms + 1).UTC()
		if !limit.IsZero() && floor.After(limit) {
			return nil, false
		}
	}
}
