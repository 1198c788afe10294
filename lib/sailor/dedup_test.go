package sailor

import (
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// fakeAcker records acks and rejects, failing when closed.
type fakeAcker struct {
	mu      sync.Mutex
	closed  bool
	acks    []uint64
	multi   []uint64 // the acks (also in acks) sent with multiple set
	rejects []uint64
}

func (f *fakeAcker) Ack(tag uint64, multiple bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return amqp.ErrClosed
	}
	f.acks = append(f.acks, tag)
	if multiple {
		f.multi = append(f.multi, tag)
	}
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

// finishing makes the tracker's leader, when it yields, complete the given
// inputs first, as inputs that become ready together do.
func finishing(tr *tracker, es ...*entry) {
	tr.yield = func() {
		tr.yield = func() {}
		for _, e := range es {
			tr.complete(e, outcomeAck)
		}
	}
}

// admitted is a tracker on generation 1 with n inputs in flight, tagged 1..n.
func admitted(n int) (*tracker, *fakeAcker, []*entry) {
	tr, ch := newTestTracker(), &fakeAcker{}
	tr.setGeneration(1)
	es := make([]*entry, n)
	for i := range es {
		id := string(rune('a' + i))
		es[i] = tr.admit(delivery(ch, uint64(i+1), id, id, false), 1)
	}
	return tr, ch, es
}

func TestTrackerAcksInputsFinishingTogetherAtOnce(t *testing.T) {
	tr, ch, es := admitted(4)
	a, b, c, d := es[0], es[1], es[2], es[3]
	finishing(tr, c, b)
	tr.complete(a, outcomeAck)
	if !slices.Equal(ch.acks, []uint64{3}) || !slices.Equal(ch.multi, []uint64{3}) {
		t.Errorf("acks %v (multiple %v), want one multiple-ack of 3", ch.acks, ch.multi)
	}
	tr.complete(d, outcomeAck)
	if !slices.Equal(ch.acks, []uint64{3, 4}) || len(ch.multi) != 1 || len(tr.pending) != 0 || len(tr.open) != 0 {
		t.Errorf("acks %v (multiple %v) pending %v open %v", ch.acks, ch.multi, tr.pending, tr.open)
	}
	if !tr.wait(time.Second) {
		t.Error("inputs still in flight")
	}
}

func TestTrackerNeverAcksPastAnInputInProcess(t *testing.T) {
	tr, ch, es := admitted(3)
	a, b, c := es[0], es[1], es[2]
	finishing(tr, c)
	tr.complete(b, outcomeAck) // a (tag 1) is still in process
	if len(ch.multi) != 0 || !slices.Equal(ch.acks, []uint64{2, 3}) {
		t.Errorf("acks %v (multiple %v), want 2 and 3 one by one", ch.acks, ch.multi)
	}
	tr.complete(a, outcomeReject)
	if !slices.Equal(ch.rejects, []uint64{1}) {
		t.Errorf("rejects %v", ch.rejects)
	}
}

func TestTrackerMultipleAckSkipsRejectedInputs(t *testing.T) {
	tr, ch, es := admitted(3)
	a, b, c := es[0], es[1], es[2]
	tr.complete(b, outcomeReject)
	finishing(tr, c)
	tr.complete(a, outcomeAck)
	if !slices.Equal(ch.rejects, []uint64{2}) || !slices.Equal(ch.multi, []uint64{3}) || !slices.Equal(ch.acks, []uint64{3}) {
		t.Errorf("rejects %v acks %v (multiple %v)", ch.rejects, ch.acks, ch.multi)
	}
}

// While draining, deliveries that are not copies stay unacked for the broker
// to requeue: a multiple-ack must not cover them.
func TestTrackerNeverAcksDeliveriesLeftForRequeue(t *testing.T) {
	tr := newTestTracker()
	old := &fakeAcker{closed: true}
	tr.setGeneration(1)
	a := tr.admit(delivery(old, 1, "a", "a", false), 1)
	b := tr.admit(delivery(old, 2, "b", "b", false), 1)
	tr.setGeneration(2)
	live := &fakeAcker{}
	if tr.admitDuplicateOnly(delivery(live, 1, "x", "x", false), 2) {
		t.Fatal("a new input taken for a copy")
	}
	if !tr.admitDuplicateOnly(delivery(live, 2, "a", "a", true), 2) || !tr.admitDuplicateOnly(delivery(live, 3, "b", "b", true), 2) {
		t.Fatal("copies not recognised")
	}
	finishing(tr, b)
	tr.complete(a, outcomeAck)
	if len(live.multi) != 0 || !slices.Equal(live.acks, []uint64{2, 3}) {
		t.Errorf("acks %v (multiple %v), want 2 and 3 one by one; 1 is left for requeue", live.acks, live.multi)
	}
}

// An input waiting in the leader's batch whose channel dies and whose copy
// arrives meanwhile is acked once, through the copy.
func TestTrackerAcksOnceWhenACopyComesDuringTheBatch(t *testing.T) {
	tr := newTestTracker()
	old := &fakeAcker{}
	tr.setGeneration(1)
	a := tr.admit(delivery(old, 1, "a", "a", false), 1)
	live := &fakeAcker{}
	tr.yield = func() {
		tr.yield = func() {}
		old.mu.Lock()
		old.closed = true
		old.mu.Unlock()
		tr.setGeneration(2)
		if tr.admit(delivery(live, 4, "a", "a", true), 2) != nil {
			t.Error("copy dispatched")
		}
	}
	tr.complete(a, outcomeAck)
	if !slices.Equal(live.acks, []uint64{4}) || len(old.acks) != 0 || len(tr.pending) != 0 {
		t.Errorf("live acks %v old acks %v pending %v", live.acks, old.acks, tr.pending)
	}
	if !tr.wait(time.Second) {
		t.Error("input still in flight")
	}
}
