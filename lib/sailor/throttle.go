package sailor

import (
	"context"
	"sync"
	"time"
)

// throttle lets at most limit events start within any interval (a sliding
// window, like the p-throttle N uses). It is shared by all messages.
type throttle struct {
	mu       sync.Mutex
	limit    int
	interval time.Duration
	starts   []time.Duration // ring of the last limit start times, since base
	next     int
	base     time.Time
	now      func() time.Time
}

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
	if len(t.starts) < t.limit {
		t.starts = append(t.starts, now)
		return 0
	}
	oldest := t.starts[t.next]
	if d := oldest + t.interval - now; d > 0 {
		return d
	}
	t.starts[t.next] = now
	t.next = (t.next + 1) % t.limit
	return 0
}
