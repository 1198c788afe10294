package sailor

import (
	"context"
	"testing"
	"time"
)

func TestThrottleLimitsPerInterval(t *testing.T) {
	th := newThrottle(2, 100*time.Millisecond)
	now := time.Unix(0, 0)
	th.base = now
	th.now = func() time.Time { return now }
	if first, second := th.reserve(), th.reserve(); first != 0 || second != 0 {
		t.Fatal("first two events waited")
	}
	if d := th.reserve(); d != 100*time.Millisecond {
		t.Errorf("third event waits %v, want 100ms", d)
	}
	now = now.Add(60 * time.Millisecond)
	if d := th.reserve(); d != 40*time.Millisecond {
		t.Errorf("wait %v, want 40ms", d)
	}
	now = now.Add(40 * time.Millisecond)
	if first, second := th.reserve(), th.reserve(); first != 0 || second != 0 {
		t.Error("events after the interval waited")
	}
	if th.reserve() == 0 {
		t.Error("a third event in the new window did not wait")
	}
}

func TestThrottleWaitHonoursContext(t *testing.T) {
	th := newThrottle(1, time.Hour)
	if err := th.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := th.wait(ctx); err == nil {
		t.Error("second event passed within the hour")
	}
	var none *throttle
	if err := none.wait(context.Background()); err != nil {
		t.Error("nil throttle waited")
	}
}

func TestThrottleRealTime(t *testing.T) {
	th := newThrottle(10, 100*time.Millisecond)
	start := time.Now()
	for range 25 {
		if err := th.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 200*time.Millisecond || el > 2*time.Second {
		t.Errorf("25 events at 10/100ms took %v, want about 200ms", el)
	}
}

// TestThrottleSameAsRingOfLimitStarts checks the window against the
// reference rule (an event starts when fewer than limit of the previous
// starts lie within the interval before it) on an irregular event stream.
func TestThrottleSameAsRingOfLimitStarts(t *testing.T) {
	const limit, interval = 5, 100 * time.Millisecond
	th := newThrottle(limit, interval)
	now := time.Unix(0, 0)
	th.base = now
	th.now = func() time.Time { return now }
	var starts []time.Time
	for i := range 2000 {
		now = now.Add(time.Duration(i*7919%41) * time.Millisecond)
		want := time.Duration(0)
		if len(starts) >= limit {
			if d := starts[len(starts)-limit].Add(interval).Sub(now); d > 0 {
				want = d
			}
		}
		got := th.reserve()
		if got != want {
			t.Fatalf("event %d: wait %v, want %v", i, got, want)
		}
		if got == 0 {
			starts = append(starts, now)
		}
	}
}

// TestThrottleMemoryFollowsOneInterval checks that a huge limit does not
// make the throttle keep every start: a million events spread over time
// leave a ring of about the events of one interval.
func TestThrottleMemoryFollowsOneInterval(t *testing.T) {
	th := newThrottle(1_000_000, 100*time.Millisecond)
	now := time.Unix(0, 0)
	th.base = now
	th.now = func() time.Time { return now }
	for range 1_000_000 {
		now = now.Add(100 * time.Microsecond) // 10,000 events/s: 1,000 per interval
		if th.reserve() != 0 {
			t.Fatal("an event waited below the limit")
		}
	}
	if n := th.size(); n > 4096 {
		t.Errorf("ring holds %d slots after 1e6 events at 1,000 per interval; want about 1,000", n)
	}
	now = now.Add(time.Second) // idle: the ring shrinks again as events resume
	for range 100 {
		now = now.Add(10 * time.Millisecond)
		th.reserve()
	}
	if n := th.size(); n > 64 {
		t.Errorf("ring holds %d slots at 10 events per interval", n)
	}
}
