package triggers

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fhir"
	"github.com/fitbitplus/connector/lib/rest"
)

// metricPageSize is the page[size] of the metric lists (the API's maximum).
const metricPageSize = 50

// maxPatients bounds the patient list one poll reads.
const maxPatients = 1 << 20

// metricFetchers is how many metric list requests a poll has in flight.
const metricFetchers = 8

// maxExtraPages bounds how many pages before a patient's window the count
// check reads back when the counts say a bucket has metrics not yet found.
const maxExtraPages = 4

// MetricsTrigger emits the new health metrics of the patients of an
// organization or groups, optionally only some metric types.
//
// Metrics have no time filter, no update and no delete in the API. The
// trigger relies on what the API's ids show: a metric id is a MongoDB
// ObjectID whose first 8 hex digits are the second it was stored, and a
// patient's list is in the order its metrics were stored, only growing at
// its end. New metrics then sit at the end of each list, and their id times
// are past the last poll. The snapshot keeps a window over id times (as the
// updated_at triggers keep one over updated_at), with a ledger of the metrics
// consumed in its look-back part, and per bucket of patients the number of
// metrics consumed; no per-patient state, so one step follows an
// organization of any size within the 5 KB snapshot.
//
// A poll:
//  1. lists the patients, then asks each list's meta.count (page[size] 0;
//     on a first poll, when every list is to be read, the first page of 50
//     comes with the count, and a list that fits it is read there);
//  2. reads, for each patient of a bucket whose counts moved (or whose
//     patients changed), its list backwards from the last page until a page
//     starts before the window (usually one page);
//  3. takes as new every metric read whose id time is in the window and not
//     in the ledger, and every metric whose id time is older than the window
//     but follows a newer one in the list (an id out of order: it was stored
//     late). A patient whose list shows such an id is pinned: from then on it
//     is followed by list position, as if ids had no time;
//  4. checks each bucket: the metrics found new must be the counts' growth.
//     When fewer are found, it reads further back (up to maxExtraPages pages)
//     for ids out of order; what stays missing is logged as a warning;
//  5. fetches all of that before emitting anything, so a request failing
//     halfway emits nothing and leaves the snapshot as it was;
//  6. emits the pinned patients' new metrics (list order), then the others in
//     (id time, id) order, with a checkpoint snapshot after every pageSize
//     messages, and a final snapshot.
//
// Requests per poll: ceil(patients/pageSize) for the patient list, one per
// patient for the counts, and for each patient with metrics in a bucket that
// changed (about patients/256 for each patient with new metrics), one page
// plus one per further 50 metrics of its window; for a pinned patient with
// new metrics, one page per 50 of them; and, only when a bucket's counts
// grew by more than was found, its lists again with up to maxExtraPages
// pages more.
type MetricsTrigger struct {
	Name       string
	Patients   *rest.Operation // fetchPatients
	Metrics    *rest.Operation // fetchPatientHealthMetrics
	Now        func() time.Time
	MaxPerPoll int // 0: DefaultMaxPerPoll; the window's end is pulled in to hold at most this many
}

// Process implements component.Function.
func (t *MetricsTrigger) Process(ctx context.Context, ex *component.Exec) error {
	return pollError(t.Name, t.poll(ctx, ex))
}

// metric is one metric a poll read and has not consumed yet.
type metric struct {
	id       string
	pos      int   // its position in the patient's list
	at       int64 // its id time, Unix milliseconds (0: the id carries no time)
	key      seenKey
	raw      json.RawMessage // nil once the window's end is pulled in before it
	included []json.RawMessage
	reqID    string
	late     bool // its id is older than the window and follows a newer one
}

// tail is what a poll read of one patient's list.
type tail struct {
	patient int      // index in the poll's patients
	start   int      // list position of the first metric read
	end     int      // list position after the last metric read
	items   []metric // the metrics read that were not consumed, in list order
	late    bool     // some item is late: the patient is to be pinned
	pinned  bool     // followed by position (items are all after it)
}

// patient is one patient of a poll.
type patient struct {
	id      string
	hash    string
	bucket  int
	members uint32
	count   int  // meta.count of the list
	pos     int  // list position when followed by position
	pinned  bool // followed by position (pinned or legacy)
	legacy  bool // its position comes from the former snapshot format
}

// metricsPoll is the state of one poll.
type metricsPoll struct {
	t        *MetricsTrigger
	client   component.APIClient
	set      settings
	book     *metricsBook
	log      *slog.Logger
	from, lo int64 // window start, and the watermark the end is never pulled below (Unix ms)
	maxItems int
	requests atomic.Int64

	mu    sync.Mutex
	to    int64 // window end (exclusive, Unix ms)
	held  int   // bodies held of metrics followed by window
	tails map[int]*tail
}

func (t *MetricsTrigger) now() time.Time {
	if t.Now != nil {
		return t.Now().UTC().Truncate(time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

func (t *MetricsTrigger) poll(ctx context.Context, ex *component.Exec) error {
	log := logger(ex)
	now := t.now()
	set, err := readSettings(ex.Cfg, now)
	if err != nil {
		return err
	}
	// Ids tell time to the second: a window reaching back less than that
	// could miss a metric stored in the second a poll read.
	lookback := max(set.lookback, time.Second)
	scope := set.scope(t.Name)
	book := loadMetricsBook(ex.Snapshot, scope)
	from := set.start
	if !book.win.fresh() {
		from = book.win.from(lookback)
	}
	if !now.Truncate(time.Second).After(from) {
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
	p := &metricsPoll{t: t, client: client, set: set, book: book, log: log, tails: map[int]*tail{},
		maxItems: t.MaxPerPoll}
	if p.maxItems <= 0 {
		p.maxItems = DefaultMaxPerPoll
	}
	p.from = from.UnixMilli()
	p.lo = max(p.from, book.win.wm.UnixMilli())
	p.to = max(p.lo, now.Truncate(time.Second).UnixMilli())

	patients, err := p.patients(ctx)
	if err != nil {
		return err
	}
	if err := p.countAll(ctx, patients); err != nil {
		return err
	}
	start := bucketsOf(patients, nil)
	var walk []int
	for i, pt := range patients {
		switch {
		case pt.pinned:
			if pt.count != pt.pos {
				walk = append(walk, i)
			}
		case pt.count > 0 && (book.sums == nil || book.sums[pt.bucket] != start[pt.bucket]):
			walk = append(walk, i)
		}
	}
	if err := p.readAll(ctx, patients, walk, 0); err != nil {
		return err
	}
	if err := p.check(ctx, patients, start); err != nil {
		return err
	}
	p.pin(ctx, patients)
	if book.win.fresh() {
		book.win.floor = from // a checkpoint before the first completed poll keeps the start
	}
	return p.emit(ctx, ex, scope, lookback, patients)
}

// patients lists the patients in scope, sorted by id, with their positions
// when followed by position.
func (p *metricsPoll) patients(ctx context.Context) ([]patient, error) {
	input := map[string]any{"filter": p.set.filter(), "page": map[string]any{"limit": p.set.pageSize}}
	var ids []string
	res, err := rest.Walk(ctx, p.t.Patients, p.client, input, rest.WalkOptions{MaxItems: maxPatients, MaxPages: 1 << 20},
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
	p.requests.Add(int64(res.Pages))
	if err != nil {
		return nil, err
	}
	if res.Truncated != "" {
		return nil, fmt.Errorf("more than %d patients in scope: split the step by groups", maxPatients)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]patient, len(ids))
	for i, id := range ids {
		b, m := patientBucket(id)
		out[i] = patient{id: id, hash: idHash(id), bucket: b, members: m}
		if n, ok := p.book.legacy[out[i].hash]; ok {
			out[i].pos, out[i].pinned, out[i].legacy = n, true, true
		} else if n, ok := p.book.pinned[out[i].hash]; ok {
			out[i].pos, out[i].pinned = n, true
		}
	}
	return out, nil
}

// countAll asks every patient's list for its meta.count. When every list
// with metrics is to be read (no bucket counts yet), the count comes with
// the first page, and a list that fits it is read there.
func (p *metricsPoll) countAll(ctx context.Context, patients []patient) error {
	size := 0
	if p.book.sums == nil {
		size = metricPageSize
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(metricFetchers)
	for i := range patients {
		g.Go(func() error {
			page := map[string]any{"size": size}
			if size > 0 {
				page["number"] = 1
			}
			input := map[string]any{"filter": map[string]any{"patient": patients[i].id}, "page": page}
			var first []metric
			res, err := rest.Walk(ctx, p.t.Metrics, p.client, input, rest.WalkOptions{Single: true},
				func(pg *rest.Page) error {
					var err error
					first, err = readMetrics(pg, 0)
					return err
				})
			p.requests.Add(int64(res.Pages))
			if err != nil {
				return err
			}
			if res.Count < 0 {
				return errors.New("the metric list gives no meta.count")
			}
			patients[i].count = res.Count
			if size > 0 && !patients[i].pinned && res.Count > 0 && len(first) == res.Count {
				tl := p.classify(first, 0, len(first))
				tl.patient = i
				p.add(tl)
			}
			return nil
		})
	}
	return g.Wait()
}

// bucketsOf sums the counts and membership hashes of the patients followed
// by window (ends, when not nil, replaces the counts of the patients read).
func bucketsOf(patients []patient, ends map[int]int) *buckets {
	var bs buckets
	for i, pt := range patients {
		if pt.pinned {
			continue
		}
		n := pt.count
		if e, ok := ends[i]; ok {
			n = e
		}
		b := &bs[pt.bucket]
		b.sum = (b.sum + uint32(n)) & bucketMask
		b.members ^= pt.members
	}
	return &bs
}

// readAll reads the lists of patients[i] for i in which: by window, extra
// pages before it; by position, from the position on.
func (p *metricsPoll) readAll(ctx context.Context, patients []patient, which []int, extra int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(metricFetchers)
	if extra == 0 {
		which = slices.DeleteFunc(slices.Clone(which), func(i int) bool { return p.tails[i] != nil }) // read with their counts
	}
	for _, i := range which {
		g.Go(func() error {
			var tl *tail
			var err error
			if patients[i].pinned {
				tl, err = p.readFrom(ctx, &patients[i])
			} else {
				tl, err = p.readTail(ctx, patients[i], extra)
			}
			if err != nil {
				return err
			}
			tl.patient = i
			p.add(tl)
			return nil
		})
	}
	return g.Wait()
}

// readTail reads a patient's list backwards from its last page until a
// page starts before the window, then extra pages more, and keeps the
// metrics not consumed.
func (p *metricsPoll) readTail(ctx context.Context, pt patient, extra int) (*tail, error) {
	var pages [][]metric
	last := (pt.count + metricPageSize - 1) / metricPageSize
	end := 0
	n := last
	for ; n >= 1; n-- {
		ms, err := p.readPage(ctx, pt.id, n)
		if err != nil {
			return nil, err
		}
		if n == last {
			end = (n-1)*metricPageSize + len(ms)
		}
		pages = append(pages, ms)
		if len(ms) > 0 && ms[0].at < p.from {
			if extra == 0 {
				break
			}
			extra--
		}
	}
	var read []metric
	for _, ms := range slices.Backward(pages) {
		read = append(read, ms...)
	}
	return p.classify(read, max(n-1, 0)*metricPageSize, end), nil
}

// classify makes the tail of the metrics read of a list (in list order,
// from position start to end): it keeps those not consumed, the late ones
// marked.
func (p *metricsPoll) classify(read []metric, start, end int) *tail {
	tl := &tail{start: start, end: end}
	latest := int64(math.MinInt64)
	for _, m := range read {
		late := m.at < latest
		latest = max(latest, m.at)
		if m.at < p.from && !late || p.book.win.seen[m.keyOf()] {
			continue // consumed: older than the window and in order, or emitted before
		}
		m.late = m.at < p.from
		tl.late = tl.late || m.late
		tl.items = append(tl.items, m)
	}
	return tl
}

// readFrom reads a pinned patient's list from its position on.
func (p *metricsPoll) readFrom(ctx context.Context, pt *patient) (*tail, error) {
	if pt.count < pt.pos {
		p.log.WarnContext(ctx, "a patient's metric list is shorter than its stored position; the position is set to its end",
			"trigger", p.t.Name)
		pt.pos = pt.count
		return &tail{start: pt.count, end: pt.count, pinned: true}, nil
	}
	tl := &tail{start: pt.pos, end: pt.pos, pinned: true}
	first := pt.pos/metricPageSize + 1
	skip := pt.pos % metricPageSize
	input := map[string]any{"filter": map[string]any{"patient": pt.id},
		"page": map[string]any{"size": metricPageSize, "number": first}}
	res, err := rest.Walk(ctx, p.t.Metrics, p.client, input, rest.WalkOptions{MaxItems: p.maxItems + skip, MaxPages: 1 << 20},
		func(pg *rest.Page) error {
			data := pg.Data
			if pg.Number == 1 {
				data = data[min(skip, len(data)):]
			}
			id := reqID(pg)
			for _, raw := range data {
				m, err := readMetric(raw, pg, id)
				if err != nil {
					return err
				}
				m.pos = tl.end
				tl.end++
				tl.items = append(tl.items, m)
			}
			return nil
		})
	p.requests.Add(int64(res.Pages))
	return tl, err
}

// readPage reads page n of a patient's list.
func (p *metricsPoll) readPage(ctx context.Context, patient string, n int) ([]metric, error) {
	input := map[string]any{"filter": map[string]any{"patient": patient},
		"page": map[string]any{"size": metricPageSize, "number": n}}
	var out []metric
	res, err := rest.Walk(ctx, p.t.Metrics, p.client, input, rest.WalkOptions{Single: true}, func(pg *rest.Page) error {
		var err error
		out, err = readMetrics(pg, (n-1)*metricPageSize)
		return err
	})
	p.requests.Add(int64(res.Pages))
	return out, err
}

// readMetrics reads the metrics of a page whose first is at list position
// pos.
func readMetrics(pg *rest.Page, pos int) ([]metric, error) {
	id := reqID(pg)
	out := make([]metric, 0, len(pg.Data))
	for i, raw := range pg.Data {
		m, err := readMetric(raw, pg, id)
		if err != nil {
			return nil, err
		}
		m.pos = pos + i
		out = append(out, m)
	}
	return out, nil
}

// readMetric reads a metric of a page: its id and the time the id carries
// (0 for an id that is not an ObjectID: it then counts as out of order).
// The ledger key's hash is left for keyOf.
func readMetric(raw json.RawMessage, pg *rest.Page, reqID string) (metric, error) {
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.ID == "" {
		return metric{}, errors.New("a metric of the list is not a resource with an id")
	}
	var at int64
	if b, err := hex.DecodeString(r.ID); err == nil && len(b) == 12 {
		at = int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
	}
	at *= 1000
	return metric{id: r.ID, at: at, key: seenKey{ms: at}, raw: raw, included: pg.Included, reqID: reqID}, nil
}

// keyOf completes a metric's ledger key.
func (m *metric) keyOf() seenKey {
	if m.key.hash == "" {
		m.key.hash = idHash(m.id)
	}
	return m.key
}

// add files a tail read, pulling the window's end in (halfway towards lo)
// while the unpinned metrics before it are more than maxItems.
func (p *metricsPoll) add(tl *tail) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tails[tl.patient] = tl
	if tl.pinned || tl.late {
		return // held whole until pin decides
	}
	p.held += p.cut(tl)
	for p.held > p.maxItems && p.to-p.lo > 1000 {
		p.to = p.lo + (p.to-p.lo)/2
		p.held = 0
		for _, x := range p.tails {
			if !x.pinned && !x.late {
				p.held += p.cut(x)
			}
		}
	}
}

// cut drops the bodies of a tail's metrics at or after the window's end
// and returns how many it still holds.
func (p *metricsPoll) cut(tl *tail) int {
	n := 0
	for i := range tl.items {
		m := &tl.items[i]
		if m.at >= p.to && !m.late {
			m.raw = nil
		} else if m.raw != nil {
			n++
		}
	}
	return n
}

// drop removes a tail (to read it again).
func (p *metricsPoll) drop(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tl := p.tails[i]; tl != nil && !tl.pinned && !tl.late {
		for _, m := range tl.items {
			if m.raw != nil {
				p.held--
			}
		}
	}
	delete(p.tails, i)
}

// check compares, per bucket whose patients are the same as last poll, the
// metrics found new with the counts' growth since then. Where fewer are
// found, it reads the bucket's lists further back, page by page, for late
// ids; what stays missing, or is found in excess, is logged.
func (p *metricsPoll) check(ctx context.Context, patients []patient, start *buckets) error {
	if p.book.sums == nil {
		return nil
	}
	short := func() (missing, excess int, again []int) {
		ends := map[int]int{}
		found := map[int]int{}
		for i, tl := range p.tails {
			if !tl.pinned {
				ends[i] = tl.end
				found[patients[i].bucket] += len(tl.items)
			}
		}
		now := bucketsOf(patients, ends)
		for b := range metricBuckets {
			if start[b].members != p.book.sums[b].members {
				continue // patients joined or left: the counts say nothing
			}
			d := bucketDelta(now[b].sum, p.book.sums[b].sum) - found[b]
			switch {
			case d > 0:
				missing += d
				for i, tl := range p.tails {
					if !tl.pinned && patients[i].bucket == b && tl.start > 0 {
						again = append(again, i)
					}
				}
			case d < 0:
				excess -= d
			}
		}
		slices.Sort(again)
		return missing, excess, again
	}
	missing, excess, again := short()
	for extra := 1; missing > 0 && len(again) > 0 && extra <= maxExtraPages; extra++ {
		for _, i := range again {
			p.drop(i)
		}
		if err := p.readAll(ctx, patients, again, extra); err != nil {
			return err
		}
		missing, excess, again = short()
	}
	if missing > 0 {
		p.log.WarnContext(ctx, "the metric counts grew by more than the metrics found new: some were stored with ids older than the look-back window and are not emitted",
			"trigger", p.t.Name, "missing", missing)
	}
	if excess > 0 {
		p.log.WarnContext(ctx, "more metrics look new than the metric counts grew by: some may be emitted again",
			"trigger", p.t.Name, "excess", excess)
	}
	return nil
}

// pin follows by position, from now on, the patients whose lists showed a
// late id (as many as the snapshot has room for, in id order), and lets
// go of the former format's positions once caught up.
func (p *metricsPoll) pin(ctx context.Context, patients []patient) {
	room := maxPinned
	for i, pt := range patients {
		if pt.pinned && !pt.legacy {
			room--
		}
		// A former position is let go of once the list is read to its end
		// and what was read is in the window's ledger (before its end).
		if tl := p.tails[i]; pt.legacy && (tl == nil || tl.end >= pt.count && !slices.ContainsFunc(tl.items,
			func(m metric) bool { return m.at >= p.to })) {
			patients[i].pinned, patients[i].legacy = false, false
		}
	}
	unpinned := 0
	for i := range patients {
		tl := p.tails[i]
		if tl == nil || tl.pinned || !tl.late {
			continue
		}
		if room > 0 {
			room--
			tl.pinned = true
			patients[i].pinned = true
			patients[i].pos = tl.start
			if len(tl.items) > 0 {
				patients[i].pos = tl.items[0].pos
			}
			continue
		}
		unpinned++
		tl.late = false
		p.held += p.cut(tl)
	}
	if unpinned > 0 {
		p.log.WarnContext(ctx, "patients' metric lists have ids out of order and the snapshot has no room to follow them by position: their late metrics may be emitted again",
			"trigger", p.t.Name, "patients", unpinned)
	}
}

// emit emits the new metrics and the snapshots.
func (p *metricsPoll) emit(ctx context.Context, ex *component.Exec, scope string, lookback time.Duration, patients []patient) error {
	var byPos, byTime []*metric
	owner := map[*metric]int{}
	ends := map[int]int{}
	pending := map[int]int{} // per bucket: unconsumed metrics of the patients followed by window
	for i, tl := range p.tails {
		for j := range tl.items {
			m := &tl.items[j]
			owner[m] = i
			switch {
			case tl.pinned:
				byPos = append(byPos, m)
			case m.raw != nil:
				byTime = append(byTime, m)
			}
		}
		if !patients[i].pinned {
			ends[i] = tl.end
			pending[patients[i].bucket] += len(tl.items)
		}
	}
	slices.SortFunc(byPos, func(a, b *metric) int {
		return cmp.Or(cmp.Compare(owner[a], owner[b]), cmp.Compare(a.pos, b.pos))
	})
	slices.SortFunc(byTime, func(a, b *metric) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id)) })
	sums := bucketsOf(patients, ends)
	snapshot := func(limit time.Time) ([]byte, bool) {
		bs := *sums
		pinned := map[string]int{}
		for b, n := range pending {
			bs[b].sum = (bs[b].sum - uint32(n)) & bucketMask
		}
		for _, pt := range patients {
			if pt.pinned {
				pinned[pt.hash] = pt.pos
			}
		}
		return p.book.encode(scope, lookback, limit, &bs, pinned)
	}

	emitted, sinceCheckpoint := 0, 0
	queue := append(byPos, byTime...)
	for k, m := range queue {
		i := owner[m]
		sent, err := p.emitOne(ctx, ex, m, patients[i].id)
		if err != nil {
			return err
		}
		if m.at >= p.from && m.at < p.to {
			p.book.win.seen[m.keyOf()] = true
		}
		if patients[i].pinned {
			patients[i].pos = m.pos + 1
		} else {
			pending[patients[i].bucket]--
		}
		if !sent {
			continue
		}
		emitted++
		sinceCheckpoint++
		if sinceCheckpoint >= p.set.pageSize && k+1 < len(queue) {
			// The floor must not pass the next metric of the window, nor its end.
			limit := time.UnixMilli(p.to).UTC()
			if k+1 >= len(byPos) {
				limit = time.UnixMilli(queue[k+1].at).UTC()
			} else if len(byTime) > 0 {
				limit = time.UnixMilli(byTime[0].at).UTC()
			}
			if b, ok := snapshot(limit); ok {
				if err := ex.Emit.Snapshot(ctx, b); err != nil {
					return fmt.Errorf("emit snapshot: %w", err)
				}
				sinceCheckpoint = 0
			}
		}
	}
	for i, tl := range p.tails {
		if patients[i].pinned {
			patients[i].pos = tl.end
		}
	}
	p.book.win.wm = time.UnixMilli(p.to).UTC()
	b, ok := snapshot(time.Time{})
	if !ok {
		return errors.New("the snapshot does not fit its budget")
	}
	if err := ex.Emit.Snapshot(ctx, b); err != nil {
		return fmt.Errorf("emit snapshot: %w", err)
	}
	p.log.InfoContext(ctx, "poll done", "trigger", p.t.Name, "patients", len(patients), "read", len(p.tails),
		"emitted", emitted, "requests", p.requests.Load(), "window_end", formatTime(p.book.win.wm), "snapshot_bytes", len(b))
	return nil
}

// emitOne emits the message of a metric (none when the type filter passes
// over it) and reports whether it sent one. A metric the output cannot
// express gives an error event instead, and the poll goes on.
func (p *metricsPoll) emitOne(ctx context.Context, ex *component.Exec, m *metric, patientID string) (bool, error) {
	doc, err := p.t.metricDoc(m.raw, m.included, patientID, p.set)
	if err != nil || doc == nil {
		return false, err
	}
	if p.set.fhir {
		if doc, err = observation(doc, m.reqID, p.set.bundle); err != nil {
			if err := ex.Emit.Error(ctx, err); err != nil {
				return false, fmt.Errorf("emit: %w", err)
			}
			return false, nil
		}
	}
	msg := &component.Message{ID: uuid.NewString(), Headers: map[string]any{}, Body: doc}
	if err := ex.Emit.Data(ctx, msg); err != nil {
		return false, fmt.Errorf("emit: %w", err)
	}
	return true, nil
}

// metricDoc makes the message body of a metric, or nil when the type filter
// passes over it.
func (t *MetricsTrigger) metricDoc(raw json.RawMessage, included []json.RawMessage, patient string, set settings) ([]byte, error) {
	var m struct {
		ID         string `json:"id"`
		Attributes struct {
			Type string `json:"type"`
		} `json:"attributes"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("a metric of the list is not a resource")
	}
	if len(set.metricTypes) > 0 && !slices.Contains(set.metricTypes, m.Attributes.Type) {
		return nil, nil
	}
	doc, err := rest.SingleDocument(raw, included, map[string]any{"trigger": t.Name, "patient": patient})
	if err != nil {
		return nil, fmt.Errorf("metric %s: %w", m.ID, err)
	}
	return doc, nil
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
