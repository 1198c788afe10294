package sailor

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"
)

// fakeAcker is a consumer channel: it records acks and rejects, failing
// when closed.
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

func (f *fakeAcker) IsClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *fakeAcker) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}

func (f *fakeAcker) Cancel(string, bool) error        { return nil }
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

// sess is a consumer of generation gen on ch.
func sess(gen uint64, ch *fakeAcker) *session { return &session{gen: gen, ch: ch} }

func newTestTracker() *tracker { return newTracker(slog.New(slog.NewTextHandler(io.Discard, nil))) }

func TestTrackerSettlesOnLiveChannel(t *testing.T) {
	tr := newTestTracker()
	ch := &fakeAcker{}
	e := tr.admit(delivery(ch, 1, "m1", "b", false), sess(1, ch))
	tr.complete(e, outcomeAck)
	e = tr.admit(delivery(ch, 2, "m2", "b", false), sess(1, ch))
	tr.complete(e, outcomeReject)
	if len(ch.acks) != 1 || ch.acks[0] != 1 || len(ch.rejects) != 1 || ch.rejects[0] != 2 || len(tr.pending) != 0 {
		t.Errorf("acks %v rejects %v pending %v", ch.acks, ch.rejects, tr.pending)
	}
}

func TestTrackerAcksThroughRedeliveredCopy(t *testing.T) {
	tr := newTestTracker()
	old := &fakeAcker{}
	e := tr.admit(delivery(old, 1, "m1", "body", false), sess(1, old))
	old.close() // the read connection dies while m1 is processed
	live := &fakeAcker{}
	if dup := tr.admit(delivery(live, 7, "m1", "body", true), sess(2, live)); dup != nil {
		t.Fatal("the redelivered copy was dispatched again")
	}
	// Killed again: a third copy on generation 3.
	live.close()
	third := &fakeAcker{}
	if dup := tr.admit(delivery(third, 9, "m1", "body", true), sess(3, third)); dup != nil {
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
	e := tr.admit(delivery(old, 1, "m1", "body", false), sess(1, old))
	tr.complete(e, outcomeReject)
	if tr.unsettled() != 1 {
		t.Fatal("finished input not kept for its copy")
	}
	live := &fakeAcker{}
	if tr.admit(delivery(live, 3, "m1", "body", true), sess(2, live)) != nil {
		t.Fatal("copy dispatched")
	}
	if len(live.rejects) != 1 || tr.unsettled() != 0 {
		t.Errorf("rejects %v unsettled %d", live.rejects, tr.unsettled())
	}
}

func TestTrackerKeepsDistinctMessagesSharingAnID(t *testing.T) {
	tr := newTestTracker()
	ch := &fakeAcker{}
	// prefetch > 1: the official sailor gives several outputs of one input the same messageId.
	a := tr.admit(delivery(ch, 1, "shared", "a", false), sess(1, ch))
	b := tr.admit(delivery(ch, 2, "shared", "b", false), sess(1, ch))
	// A true redelivery from elsewhere on the same generation is processed too.
	c := tr.admit(delivery(ch, 3, "shared", "a", true), sess(1, ch))
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
	if tr.admit(delivery(ch, 4, "other", "x", true), sess(1, ch)) == nil {
		t.Error("a true redelivery was dropped")
	}
}

// TestTrackerLiveFollowsTheCopy: an input whose channel closed cannot be
// settled until its copy arrives on the new channel.
func TestTrackerLiveFollowsTheCopy(t *testing.T) {
	tr := newTestTracker()
	old := &fakeAcker{}
	e := tr.admit(delivery(old, 1, "m1", "body", false), sess(1, old))
	if !tr.live(e) {
		t.Fatal("an input on an open channel is not live")
	}
	old.close()
	if tr.live(e) {
		t.Fatal("an input on a closed channel is live")
	}
	fresh := &fakeAcker{}
	tr.admit(delivery(fresh, 5, "m1", "body", true), sess(2, fresh))
	if !tr.live(e) {
		t.Fatal("an input whose copy arrived is not live")
	}
	tr.complete(e, outcomeAck)
	if len(fresh.acks) != 1 || fresh.acks[0] != 5 {
		t.Errorf("acks on the new channel %v", fresh.acks)
	}
}

// TestTrackerLeaveForgetsTheInput: an input left for redelivery is not
// settled, and its copy is processed as a new input.
func TestTrackerLeaveForgetsTheInput(t *testing.T) {
	tr := newTestTracker()
	old := &fakeAcker{}
	e := tr.admit(delivery(old, 1, "m1", "body", false), sess(1, old))
	old.close()
	tr.complete(e, outcomeLeave)
	fresh := &fakeAcker{}
	if tr.admit(delivery(fresh, 2, "m1", "body", true), sess(2, fresh)) == nil {
		t.Fatal("the copy of an input left for redelivery was taken for a duplicate")
	}
	if len(old.acks)+len(old.rejects) != 0 || tr.unsettled() != 0 {
		t.Errorf("old channel acks %v rejects %v, unsettled %d", old.acks, old.rejects, tr.unsettled())
	}
}

// TestTrackerWaitLeavesNoGoroutine: a wait that times out leaves nothing
// behind, and a later wait sees the inputs finish.
func TestTrackerWaitLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t)
	tr := newTestTracker()
	ch := &fakeAcker{}
	if !tr.wait(time.Millisecond) {
		t.Fatal("wait with nothing in process timed out")
	}
	e := tr.admit(delivery(ch, 1, "m1", "b", false), sess(1, ch))
	if tr.wait(10 * time.Millisecond) {
		t.Fatal("wait returned while an input is in process")
	}
	go tr.complete(e, outcomeAck)
	if !tr.wait(10 * time.Second) {
		t.Fatal("wait did not see the input finish")
	}
}
