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
	if th.reserve() != 0 || th.reserve() != 0 {
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
	if th.reserve() != 0 || th.reserve() != 0 {
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
