package sailor

import (
	"io"
	"log/slog"
	"sync"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// fakeAcker records acks and rejects, failing when closed.
type fakeAcker struct {
	mu      sync.Mutex
	closed  bool
	acks    []uint64
	rejects []uint64
}

func (f *fakeAcker) Ack(tag uint64, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return amqp.ErrClosed
	}
	f.acks = append(f.acks, tag)
	return nil
}
func (f *fakeAcker) Nack(tag uint64, _, _ bool) error { return f.Reject(tag, false) }
func (f *fakeAcker) Reject(tag uint64, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return amqp.ErrClosed
	}
	f.rejects = append(f.rejects, tag)
	return nil
}

func delivery(ack amqp.Acknowledger, tag uint64, id, body string, redelivered bool) amqp.Delivery {
	return amqp.Delivery{Acknowledger: ack, DeliveryTag: tag, Headers: amqp.Table{"messageId": id}, Body: []byte(body), Redelivered: redelivered}
}

func newTestTracker() *tracker { return newTracker(slog.New(slog.NewTextHandler(io.Discard, nil))) }

func TestTrackerSettlesOnLiveChannel(t *testing.T) {
	tr := newTestTracker()
	ch := &fakeAcker{}
	tr.setGeneration(1)
	e := tr.admit(delivery(ch, 1, "m1", "b", false), 1)
	tr.complete(e, outcomeAck)
	e = tr.admit(delivery(ch, 2, "m2", "b", false), 1)
	tr.complete(e, outcomeReject)
	if len(ch.acks) != 1 || ch.acks[0] != 1 || len(ch.rejects) != 1 || ch.rejects[0] != 2 || len(tr.pending) != 0 {
		t.Errorf("acks %v rejects %v pending %v", ch.acks, ch.rejects, tr.pending)
	}
}

func TestTrackerAcksThroughRedeliveredCopy(t *testing.T) {
	tr := newTestTracker()
	old := &fakeAcker{}
	tr.setGeneration(1)
	e := tr.admit(delivery(old, 1, "m1", "body", false), 1)
	old.closed = true // the read connection dies while m1 is processed
	tr.setGeneration(2)
	live := &fakeAcker{}
	if dup := tr.admit(delivery(live, 7, "m1", "body", true), 2); dup != nil {
		t.Fatal("the redelivered copy was dispatched again")
	}
	// Killed again: a third copy on generation 3.
	live.closed = true
	tr.setGeneration(3)
	third := &fakeAcker{}
	if dup := tr.admit(delivery(third, 9, "m1", "body", true), 3); dup != nil {
		t.Fatal("the second copy was dispatched again")
	}
	tr.complete(e, outcomeAck)
	if len(third.acks) != 1 || third.acks[0] != 9 || len(tr.pending) != 0 {
		t.Errorf("acks %v pending %d", third.acks, len(tr.pending))
	}
}

func TestTrackerCopyArrivingAfterFinish(t *testing.T) {
	tr := newTestTracker()
	old := &fakeAcker{closed: true}
	tr.setGeneration(1)
	e := tr.admit(delivery(old, 1, "m1", "body", false), 1)
	tr.setGeneration(2)
	tr.complete(e, outcomeReject)
	if tr.unsettled() != 1 {
		t.Fatal("finished input not kept for its copy")
	}
	live := &fakeAcker{}
	if tr.admit(delivery(live, 3, "m1", "body", true), 2) != nil {
		t.Fatal("copy dispatched")
	}
	if len(live.rejects) != 1 || tr.unsettled() != 0 {
		t.Errorf("rejects %v unsettled %d", live.rejects, tr.unsettled())
	}
}

func TestTrackerKeepsDistinctMessagesSharingAnID(t *testing.T) {
	tr := newTestTracker()
	ch := &fakeAcker{}
	tr.setGeneration(1)
	// prefetch > 1: N gives several outputs of one input the same messageId.
	a := tr.admit(delivery(ch, 1, "shared", "a", false), 1)
	b := tr.admit(delivery(ch, 2, "shared", "b", false), 1)
	// A true redelivery from elsewhere on the same generation is processed too.
	c := tr.admit(delivery(ch, 3, "shared", "a", true), 1)
	if a == nil || b == nil || c == nil {
		t.Fatal("a distinct message was dropped as a duplicate")
	}
	tr.complete(a, outcomeAck)
	tr.complete(b, outcomeAck)
	tr.complete(c, outcomeAck)
	if len(ch.acks) != 3 {
		t.Errorf("acks %v", ch.acks)
	}
	// A redelivered message with no input in flight is processed.
	if tr.admit(delivery(ch, 4, "other", "x", true), 1) == nil {
		t.Error("a true redelivery was dropped")
	}
}
