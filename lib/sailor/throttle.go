package sailor

import (
	"context"
	"sync"
	"time"
)

// throttle lets at most limit events start within any interval (a sliding
// window, like the p-throttle N uses). It is shared by all messages.
//
// It remembers only the starts of the last interval (older ones can never
// delay an event again), in a ring that grows and shrinks with them: its
// memory follows the events of one interval, at most limit, not the events
// ever seen nor the limit (the load benchmark raises it to 1,000,000).
type throttle struct {
	mu       sync.Mutex
	limit    int
	interval time.Duration
	starts   []time.Duration // ring of the starts of the last interval, since base
	head     int             // index of the oldest start
	n        int             // starts in the ring
	base     time.Time
	now      func() time.Time
}

// minThrottleRing is the smallest ring kept once allocated.
const minThrottleRing = 16

func newThrottle(limit int, interval time.Duration) *throttle {
	if limit <= 0 || interval <= 0 {
		return nil
	}
	return &throttle{limit: limit, interval: interval, now: time.Now, base: time.Now()}
}

// wait blocks until the event may start. A nil throttle never waits.
func (t *throttle) wait(ctx context.Context) error {
	if t == nil {
		return nil
	}
	for {
		d := t.reserve()
		if d <= 0 {
			return nil
		}
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// reserve records a start and returns 0, or returns how long to wait.
func (t *throttle) reserve() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now().Sub(t.base)
	for t.n > 0 && t.starts[t.head]+t.interval <= now {
		t.head = (t.head + 1) % len(t.starts)
		t.n--
	}
	if t.n >= t.limit {
		return t.starts[t.head] + t.interval - now
	}
	t.resize()
	t.starts[(t.head+t.n)%len(t.starts)] = now
	t.n++
	return 0
}

// resize makes room for one more start: it doubles a full ring (up to limit)
// and halves one that is three quarters empty.
func (t *throttle) resize() {
	size := len(t.starts)
	switch {
	case t.n == size:
		size = max(2*size, minThrottleRing)
	case size > minThrottleRing && t.n < size/4:
		size /= 2
	default:
		return
	}
	size = min(size, t.limit)
	ring := make([]time.Duration, size)
	for i := range t.n {
		ring[i] = t.starts[(t.head+i)%len(t.starts)]
	}
	t.starts, t.head = ring, 0
}

// size is the capacity of the ring (tests).
func (t *throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.starts)
}
