package triggers

import (
	"crypto/sha256"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// metricBuckets is how many buckets the metrics trigger sorts patients
// into (by a hash of the id) to tell, from the lists' counts alone, which
// patients have no new metric.
const metricBuckets = 256

// maxPinned bounds the patients the metrics snapshot follows by list
// position (see metricsState).
const maxPinned = 40

// A bucket's count and membership hash are kept to bucketBits bits each.
const (
	bucketBits = 18
	bucketMask = 1<<bucketBits - 1
)

// metricsState is the snapshot of the metrics trigger: the window of
// windowState, over the time the metric ids begin with, plus
//
//	"sums":   per bucket of patients, 6 base64url digits: how many metrics of
//	          its patients' lists are consumed (mod 2^18), then a hash of the
//	          patients it holds (18 bits);
//	"pinned": per patient whose list showed an id out of order (id hash):
//	          how many metrics of its list, in the API's order, are consumed
//	          (base 36);
//	"pos":    the former snapshot format's positions (read, never written).
//
// A consumed metric was emitted, or passed over by the type filter or the
// start time.
type metricsState struct {
	windowState
	Sums   string            `json:"sums,omitempty"`
	Pinned map[string]string `json:"pinned,omitempty"`
	Pos    map[string]string `json:"pos,omitempty"`
}

// bucket is one bucket of patients: the number of their metrics consumed
// and the xor of their membership hashes, both mod 2^bucketBits.
type bucket struct{ sum, members uint32 }

type buckets [metricBuckets]bucket

const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func (bs *buckets) String() string {
	var sb strings.Builder
	sb.Grow(6 * metricBuckets)
	for _, b := range bs {
		v := uint64(b.sum&bucketMask)<<bucketBits | uint64(b.members&bucketMask)
		for shift := 30; shift >= 0; shift -= 6 {
			sb.WriteByte(base64URL[(v>>shift)&63])
		}
	}
	return sb.String()
}

func parseBuckets(s string) (*buckets, bool) {
	if len(s) != 6*metricBuckets {
		return nil, false
	}
	var bs buckets
	for i := range bs {
		var v uint64
		for _, c := range []byte(s[6*i : 6*i+6]) {
			d := strings.IndexByte(base64URL, c)
			if d < 0 {
				return nil, false
			}
			v = v<<6 | uint64(d)
		}
		bs[i] = bucket{sum: uint32(v>>bucketBits) & bucketMask, members: uint32(v) & bucketMask}
	}
	return &bs, true
}

// patientBucket is the bucket of a patient id and its membership hash.
func patientBucket(id string) (int, uint32) {
	sum := sha256.Sum256([]byte(id))
	return int(sum[6]), (uint32(sum[7])<<16 | uint32(sum[8])<<8 | uint32(sum[9])) & bucketMask
}

// bucketDelta is a-b of two counts mod 2^bucketBits, read as a signed number.
func bucketDelta(a, b uint32) int {
	d := int((a - b) & bucketMask)
	if d >= 1<<(bucketBits-1) {
		d -= 1 << bucketBits
	}
	return d
}

// metricsBook is the state a metrics poll starts from.
type metricsBook struct {
	win    *window
	sums   *buckets       // nil: none (a first poll, or a snapshot of the former format)
	pinned map[string]int // id hash → list position
	legacy map[string]int // id hash → list position, from the former format: used for one poll
}

// loadMetricsBook reads a snapshot made for scope; any other gives a fresh
// state.
func loadMetricsBook(raw json.RawMessage, scope string) *metricsBook {
	b := &metricsBook{win: &window{seen: map[seenKey]bool{}}, pinned: map[string]int{}, legacy: map[string]int{}}
	var st metricsState
	if len(raw) == 0 || json.Unmarshal(raw, &st) != nil {
		return b
	}
	w, ok := st.window(scope)
	if !ok {
		return b
	}
	b.win = w
	b.sums, _ = parseBuckets(st.Sums)
	b.pinned = parsePositions(st.Pinned)
	if st.WM == "" && st.Floor == "" {
		b.legacy = parsePositions(st.Pos)
	}
	return b
}

func parsePositions(m map[string]string) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if n, err := strconv.ParseInt(v, 36, 64); err == nil && n >= 0 && n < 1<<40 {
			out[k] = int(n)
		}
	}
	return out
}

// encode makes a snapshot of the window, the buckets and the pinned
// positions (see window.encode for lookback and limit).
func (b *metricsBook) encode(scope string, lookback time.Duration, limit time.Time, sums *buckets,
	pinned map[string]int) ([]byte, bool) {
	pos := make(map[string]string, len(pinned))
	for k, n := range pinned {
		pos[k] = strconv.FormatInt(int64(n), 36)
	}
	s := sums.String()
	return b.win.encodeWith(scope, lookback, limit, func(ws windowState) any {
		return metricsState{windowState: ws, Sums: s, Pinned: pos}
	})
}
