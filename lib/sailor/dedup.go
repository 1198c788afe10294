package sailor

import (
	"bytes"
	"cmp"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// tracker keeps every input in flight, so that work started on a consumer
// channel that has since died is settled through the copy the broker
// redelivers on the new channel, and so that such a copy is not processed
// twice. A delivery is a duplicate only when it is marked redelivered, has
// the messageId header and body of an input in flight, and arrives on a later
// channel generation than that input: with prefetch > 1, distinct messages
// that share a messageId are never dropped.
//
// Acks of inputs that finish together go out as one frame: the first to
// finish leads, yields once so that the others ready to finish can join, and
// acks them all with one multiple-ack when their delivery tags are the lowest
// ones open on the channel (otherwise one by one). Every delivery the
// channel hands over is open until settled, so a multiple-ack never covers an
// input in process, one to be rejected, or one left for redelivery.
type tracker struct {
	mu       sync.Mutex
	gen      uint64 // the current consumer channel generation
	pending  map[string][]*entry
	inflight sync.WaitGroup
	log      *slog.Logger
	now      func() time.Time
	open     []uint64 // delivery tags of generation gen not yet settled, ascending
	acks     []*entry // finished inputs the leader will ack
	leading  bool     // an input's complete is acking t.acks
	yield    func()   // lets other finishing inputs run before the leader acks
}

// entry is one input being processed or waiting for a copy to settle.
type entry struct {
	key     string
	gen     uint64        // generation it was first delivered on
	d       amqp.Delivery // the delivery to settle: the original or its latest copy
	dgen    uint64        // generation of d
	done    bool
	result  outcome
	doneAt  time.Time
	settled bool
}

// unsettledTTL bounds how long a finished input waits for its redelivered
// copy (the copy may have gone to another consumer).
const unsettledTTL = 10 * time.Minute

func newTracker(log *slog.Logger) *tracker {
	return &tracker{pending: map[string][]*entry{}, log: log, now: time.Now, yield: runtime.Gosched}
}

// setGeneration starts tracking a new consumer channel.
func (t *tracker) setGeneration(gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gen, t.open = gen, nil
}

// opened records a delivery the channel of generation gen handed over.
func (t *tracker) opened(d *amqp.Delivery, gen uint64) {
	if gen != t.gen {
		return
	}
	i, found := slices.BinarySearch(t.open, d.DeliveryTag)
	if !found {
		t.open = slices.Insert(t.open, i, d.DeliveryTag)
	}
}

// closed records that e's delivery is settled.
func (t *tracker) closed(e *entry) {
	if e.dgen != t.gen {
		return
	}
	if i, found := slices.BinarySearch(t.open, e.d.DeliveryTag); found {
		t.open = slices.Delete(t.open, i, i+1)
	}
}

// admit registers a delivery. It returns nil when the delivery is a copy of
// an input in flight (it is then kept to be settled, or settled at once if
// that input is already finished).
func (t *tracker) admit(d amqp.Delivery, gen uint64) *entry {
	key := headerString(d.Headers, "messageId")
	t.mu.Lock()
	defer t.mu.Unlock()
	t.opened(&d, gen)
	t.sweep()
	if t.adoptCopy(d, gen, key) {
		t.log.Info("Duplicate message detected; it will settle the input in flight", "messageId", key, "deliveryTag", d.DeliveryTag)
		return nil
	}
	e := &entry{key: key, gen: gen, d: d, dgen: gen}
	t.pending[key] = append(t.pending[key], e)
	t.inflight.Add(1)
	return e
}

// complete records the outcome of an input and settles it if its delivery
// belongs to the live channel; otherwise it waits for the redelivered copy.
// An ack may be sent by another input's complete, but always before the
// input stops counting as in flight.
func (t *tracker) complete(e *entry, result outcome) {
	t.mu.Lock()
	e.done, e.result, e.doneAt = true, result, t.now()
	switch {
	case result == outcomeLeave:
		t.remove(e)
	case e.dgen != t.gen:
		t.awaitCopy(e)
	case result == outcomeAck:
		t.acks = append(t.acks, e)
		if t.leading {
			t.mu.Unlock() // the leader acks it and marks it done
			return
		}
		t.lead()
		t.mu.Unlock()
		return
	default:
		t.settle(e)
	}
	t.mu.Unlock()
	t.inflight.Done()
}

// lead acks t.acks, and those that join while it does, with t.mu held.
func (t *tracker) lead() {
	t.leading = true
	for len(t.acks) > 0 {
		t.mu.Unlock()
		t.yield()
		t.mu.Lock()
		batch := t.acks
		t.acks = nil
		t.ackAll(batch)
		t.mu.Unlock()
		for range batch {
			t.inflight.Done()
		}
		t.mu.Lock()
	}
	t.leading = false
}

// ackAll acks finished inputs: those whose tags are the lowest open ones
// with one multiple-ack, the others one by one.
func (t *tracker) ackAll(batch []*entry) {
	live := batch[:0:0]
	for _, e := range batch {
		if e.settled { // through a copy that came meanwhile
			continue
		}
		if e.dgen != t.gen {
			t.awaitCopy(e)
			continue
		}
		live = append(live, e)
	}
	slices.SortFunc(live, func(a, b *entry) int { return cmp.Compare(a.d.DeliveryTag, b.d.DeliveryTag) })
	n := 0
	for n < len(live) && n < len(t.open) && live[n].d.DeliveryTag == t.open[n] {
		n++
	}
	if n < 2 {
		n = 0
	} else if err := live[n-1].d.Ack(true); err != nil {
		t.log.Warn("settle inputs failed; waiting for their redelivery", "count", n, "err", err)
	} else {
		for _, e := range live[:n] {
			t.settled(e)
		}
	}
	for _, e := range live[n:] {
		t.settle(e)
	}
}

// awaitCopy leaves finished e, whose channel closed, to be settled through
// its redelivered copy.
func (t *tracker) awaitCopy(e *entry) {
	t.log.Warn("input finished after its channel closed; waiting for its redelivery to settle it", "messageId", e.key, "result", e.result.String())
}

// settle acks or rejects e's delivery; on failure (channel gone) the entry
// stays to be settled through a later copy.
func (t *tracker) settle(e *entry) {
	var err error
	if e.result == outcomeAck {
		err = e.d.Ack(false)
	} else {
		err = e.d.Reject(false)
	}
	if err != nil {
		t.log.Warn("settle input failed; waiting for its redelivery", "messageId", e.key, "err", err)
		return
	}
	t.settled(e)
}

func (t *tracker) settled(e *entry) {
	t.closed(e)
	e.settled = true
	t.remove(e)
}

func (t *tracker) remove(e *entry) {
	list := t.pending[e.key]
	for i, x := range list {
		if x == e {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(t.pending, e.key)
	} else {
		t.pending[e.key] = list
	}
}

// sweep forgets finished inputs whose copy never came.
func (t *tracker) sweep() {
	now := t.now()
	var expired []*entry
	for _, list := range t.pending {
		for _, e := range list {
			if e.done && now.Sub(e.doneAt) > unsettledTTL {
				expired = append(expired, e)
			}
		}
	}
	for _, e := range expired {
		t.log.Warn("gave up waiting for the redelivery of a finished input", "messageId", e.key)
		t.remove(e)
	}
}

// unsettled counts finished inputs still waiting for a copy.
func (t *tracker) unsettled() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, list := range t.pending {
		for _, e := range list {
			if e.done {
				n++
			}
		}
	}
	return n
}

// wait waits for the inputs in process, at most d; it reports whether they
// all finished.
func (t *tracker) wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() { t.inflight.Wait(); close(done) }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// admitDuplicateOnly settles a copy of an input in flight and reports true;
// any other delivery is left alone (used while shutting down).
func (t *tracker) admitDuplicateOnly(d amqp.Delivery, gen uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.opened(&d, gen) // left unacked, it stays open: no multiple-ack covers it
	return t.adoptCopy(d, gen, headerString(d.Headers, "messageId"))
}

// adoptCopy reports whether d is a redelivered copy of an input in flight
// (key is its messageId); the copy then becomes the delivery that settles
// that input, at once if the input is finished. t.mu is held.
func (t *tracker) adoptCopy(d amqp.Delivery, gen uint64, key string) bool {
	if !d.Redelivered {
		return false
	}
	for _, e := range t.pending[key] {
		if e.gen < gen && e.dgen < gen && bytes.Equal(e.d.Body, d.Body) {
			e.d, e.dgen = d, gen
			if e.done {
				t.settle(e)
			}
			return true
		}
	}
	return false
}
