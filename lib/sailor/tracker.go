package sailor

import (
	"bytes"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// tracker keeps every input in flight, so that work started on a consumer
// channel that has since closed is settled through the copy the broker
// redelivers on the new channel, and so that such a copy is not processed
// twice. A delivery is a copy only when it is marked redelivered, has the
// messageId header and body of an input in flight, and arrives on a later
// consumer generation than that input: with prefetch > 1, distinct messages
// that share a messageId are never dropped.
type tracker struct {
	mu      sync.Mutex
	pending map[string][]*entry
	busy    int           // inputs in process
	idleCh  chan struct{} // closed while busy == 0
	log     *slog.Logger
	now     func() time.Time
}

// entry is one input being processed or waiting for a copy to settle it.
type entry struct {
	key    string
	gen    uint64        // generation it was first delivered on
	d      amqp.Delivery // the delivery that settles it: the original or its latest copy
	sess   *session      // d's consumer
	done   bool
	result outcome
	doneAt time.Time
}

// unsettledTTL bounds how long a finished input waits for its redelivered
// copy (the copy may have gone to another consumer).
const unsettledTTL = 10 * time.Minute

func newTracker(log *slog.Logger) *tracker {
	idle := make(chan struct{})
	close(idle)
	return &tracker{pending: map[string][]*entry{}, idleCh: idle, log: log, now: time.Now}
}

// admit registers a delivery of sess. It returns nil when the delivery is a
// copy of an input in flight (kept to settle that input, at once if it is
// finished).
func (t *tracker) admit(d amqp.Delivery, sess *session) *entry {
	key := headerString(d.Headers, "messageId")
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep()
	if t.adoptCopy(d, sess, key) {
		t.log.Info("Duplicate message detected; it will settle the input in flight", "messageId", key, "deliveryTag", d.DeliveryTag)
		return nil
	}
	e := &entry{key: key, gen: sess.gen, d: d, sess: sess}
	t.pending[key] = append(t.pending[key], e)
	if t.busy == 0 {
		t.idleCh = make(chan struct{})
	}
	t.busy++
	return e
}

// adoptOnly settles d if it is a copy of an input in flight and leaves any
// other delivery alone (while shutting down).
func (t *tracker) adoptOnly(d amqp.Delivery, sess *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.adoptCopy(d, sess, headerString(d.Headers, "messageId"))
}

// adoptCopy reports whether d is a redelivered copy of an input in flight
// (key is its messageId); the copy then becomes the delivery that settles
// that input, at once if the input is finished. t.mu is held.
func (t *tracker) adoptCopy(d amqp.Delivery, sess *session, key string) bool {
	if !d.Redelivered {
		return false
	}
	for _, e := range t.pending[key] {
		if e.gen < sess.gen && e.sess.gen < sess.gen && bytes.Equal(e.d.Body, d.Body) {
			e.d, e.sess = d, sess
			if e.done {
				t.settle(e)
			}
			return true
		}
	}
	return false
}

// live tells whether e can still be settled: its delivery's channel is open.
func (t *tracker) live(e *entry) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !e.sess.ch.IsClosed()
}

// complete records the outcome of an input and settles it if its delivery's
// channel is open; otherwise the input waits for its redelivered copy.
func (t *tracker) complete(e *entry, result outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e.done, e.result, e.doneAt = true, result, t.now()
	switch {
	case result == outcomeLeave:
		t.remove(e)
	case e.sess.ch.IsClosed():
		t.log.Warn("input finished after its channel closed; waiting for its redelivery to settle it",
			"messageId", e.key, "result", result.String())
	default:
		t.settle(e)
	}
	t.busy--
	if t.busy == 0 {
		close(t.idleCh)
	}
}

// settle acks or rejects e's delivery; on failure (the channel is gone) e
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

// sweep forgets finished inputs whose copy never came. t.mu is held.
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

// idle is closed once no input is in process (it stays open while one is).
func (t *tracker) idle() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.idleCh
}

// wait waits until no input is in process, at most d; it reports whether
// that happened.
func (t *tracker) wait(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.idle():
		return true
	case <-timer.C:
		return false
	}
}
