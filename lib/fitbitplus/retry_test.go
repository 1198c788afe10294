package fitbitplus

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// statusSequence answers the given statuses in turn (then 200), with the
// given header on each non-200 answer.
func statusSequence(calls *atomic.Int32, header http.Header, statuses ...int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		n := int(calls.Add(1)) - 1
		if n < len(statuses) {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", MediaType)
			w.WriteHeader(statuses[n])
			_, _ = io.WriteString(w, `{"errors":[{"status":"`+http.StatusText(statuses[n])+`"}]}`)
			return
		}
		okHandler(w, r)
	}
}

func TestRetryAfterSecondsHonoured(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, statusSequence(&calls, http.Header{"Retry-After": {"2"}}, 429, 429))
	if status, _ := e.get(t, "/x"); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if got := e.sleeps.all(); !slices.Equal(got, []time.Duration{2 * time.Second, 2 * time.Second}) {
		t.Errorf("sleeps = %v", got)
	}
}

func TestRetryAfterHTTPDateHonoured(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, nil)
	at := e.clock.Now().Add(5 * time.Second).Format(http.TimeFormat)
	e.srv.API = statusSequence(&calls, http.Header{"Retry-After": {at}}, 503)
	if status, _ := e.get(t, "/x"); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if got := e.sleeps.all(); !slices.Equal(got, []time.Duration{5 * time.Second}) {
		t.Errorf("sleeps = %v", got)
	}
}

func TestRetryAfterBeyondCapIsNotWaited(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, statusSequence(&calls, http.Header{"Retry-After": {"60"}}, 429))
	if status, _ := e.get(t, "/x"); status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", status)
	}
	if calls.Load() != 1 || len(e.sleeps.all()) != 0 {
		t.Errorf("calls %d, sleeps %v", calls.Load(), e.sleeps.all())
	}
}

func TestRetryStopsBeforeContextDeadline(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, statusSequence(&calls, http.Header{"Retry-After": {"5"}}, 503))
	c, _ := e.clients.Client(context.Background(), e.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL()+"/x", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || calls.Load() != 1 || len(e.sleeps.all()) != 0 {
		t.Errorf("status %d, calls %d, sleeps %v", resp.StatusCode, calls.Load(), e.sleeps.all())
	}
}

func TestGetRetriedOn503WithBackoff(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, statusSequence(&calls, nil, 503, 502, 504))
	if status, _ := e.get(t, "/x"); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	// Jitter is fixed at 0.5: half of 500ms, 1s, 2s.
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}
	if got := e.sleeps.all(); !slices.Equal(got, want) {
		t.Errorf("sleeps = %v, want %v", got, want)
	}
}

func TestBackoffIsCapped(t *testing.T) {
	rt := &retryTransport{policy: RetryPolicy{MaxRetries: 10, BaseDelay: time.Second, MaxDelay: 3 * time.Second}.withDefaults(),
		jitter: func() float64 { return 0.999 }}
	for attempt := range 40 {
		if d := rt.backoff(attempt); d < 0 || d >= 3*time.Second {
			t.Fatalf("attempt %d: backoff %v outside [0, 3s)", attempt, d)
		}
	}
}

func TestRetriesAreBounded(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, statusSequence(&calls, nil, 503, 503, 503, 503, 503, 503))
	status, _ := e.get(t, "/x")
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status %d", status)
	}
	if calls.Load() != 4 || len(e.sleeps.all()) != 3 {
		t.Errorf("calls %d, sleeps %v; want 4 calls (3 retries)", calls.Load(), e.sleeps.all())
	}
}

func TestPostNotRetriedOn500(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, statusSequence(&calls, nil, 500, 500))
	if status, _ := e.do(t, http.MethodPost, "/patient", `{"data":{}}`); status != http.StatusInternalServerError {
		t.Fatalf("status %d", status)
	}
	if calls.Load() != 1 {
		t.Errorf("calls %d, want 1", calls.Load())
	}
}

func TestPostNotRetriedOn503WithoutRetryAfter(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, statusSequence(&calls, nil, 503))
	if status, _ := e.do(t, http.MethodPatch, "/patient/1", `{"data":{}}`); status != http.StatusServiceUnavailable {
		t.Fatalf("status %d", status)
	}
	if calls.Load() != 1 {
		t.Errorf("calls %d, want 1", calls.Load())
	}
}

func TestPostRetriedOn429And503WithRetryAfter(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, statusSequence(&calls, http.Header{"Retry-After": {"1"}}, 429, 503))
	if status, _ := e.do(t, http.MethodPost, "/patient", `{"data":{"a":1}}`); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if calls.Load() != 3 {
		t.Errorf("calls %d, want 3", calls.Load())
	}
}

// refuseFirst sends the first n requests to a closed port (connection
// refused), the rest to the real server.
type refuseFirst struct {
	n      atomic.Int32
	closed string
	next   http.RoundTripper
}

func (r *refuseFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path != "/pub/oauth/token" && r.n.Add(-1) >= 0 {
		req = req.Clone(req.Context())
		req.URL.Host = r.closed
	}
	return r.next.RoundTrip(req)
}

func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestPostRetriedOnConnectionRefused(t *testing.T) {
	var bodies []string
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		okHandler(w, r)
	})
	rf := &refuseFirst{closed: closedAddr(t), next: DefaultTransport()}
	rf.n.Store(2)
	e.clients = NewClients(Defaults{ClientID: testID, ClientSecret: testSecret}, rf,
		WithClock(e.clock.Now), WithSleep(e.sleeps.sleep), WithJitter(func() float64 { return 0 }))
	if status, _ := e.do(t, http.MethodPost, "/patient", `{"data":{"a":1}}`); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if len(bodies) != 1 || bodies[0] != `{"data":{"a":1}}` || len(e.sleeps.all()) != 2 {
		t.Errorf("bodies %q, sleeps %v", bodies, e.sleeps.all())
	}
}

func TestConnectionRefusedBoundedAndTransient(t *testing.T) {
	e := newEnv(t, okHandler)
	rf := &refuseFirst{closed: closedAddr(t), next: DefaultTransport()}
	rf.n.Store(100)
	e.clients = NewClients(Defaults{ClientID: testID, ClientSecret: testSecret}, rf,
		WithSleep(e.sleeps.sleep), WithRetryPolicy(RetryPolicy{MaxRetries: 2}))
	c, _ := e.clients.Client(context.Background(), e.cfg)
	req, _ := http.NewRequest(http.MethodGet, c.BaseURL()+"/x", nil)
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("no error")
	}
	if !IsTransient(err) || len(e.sleeps.all()) != 2 || rf.n.Load() != 100-3 {
		t.Errorf("err %v transient %v, sleeps %v, attempts %d", err, IsTransient(err), e.sleeps.all(), 100-rf.n.Load())
	}
}

func TestSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := sleepContext(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v", err)
	}
	if time.Since(start) > time.Second {
		t.Error("slept despite a cancelled context")
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := retryAfter(http.Header{"Retry-After": {tt.v}}, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%q: got %v %v, want %v %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBodyWithoutGetBodyIsSentOnce(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, statusSequence(&calls, http.Header{"Retry-After": {"1"}}, 429))
	c, _ := e.clients.Client(context.Background(), e.cfg)
	req, _ := http.NewRequest(http.MethodPut, c.BaseURL()+"/patient", io.NopCloser(strings.NewReader("{}")))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || calls.Load() != 1 {
		t.Errorf("status %d calls %d", resp.StatusCode, calls.Load())
	}
}
