package fitbitplus

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fitbitplus/fitbitplustest"
)

const (
	testID     = "client-1"
	testSecret = "s3cret-value"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sleeps records the waits between retries without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

type env struct {
	srv     *fitbitplustest.Server
	clients *Clients
	clock   *fakeClock
	sleeps  *sleeps
	cfg     component.Config
}

func newEnv(t *testing.T, api http.HandlerFunc, opts ...Option) *env {
	t.Helper()
	srv := fitbitplustest.NewServer(testID, testSecret)
	t.Cleanup(srv.Close)
	if api != nil {
		srv.API = api
	}
	e := &env{srv: srv, clock: newFakeClock(), sleeps: &sleeps{}}
	base := []Option{WithClock(e.clock.Now), WithSleep(e.sleeps.sleep), WithJitter(func() float64 { return 0.5 })}
	e.clients = NewClients(Defaults{ClientID: testID, ClientSecret: testSecret}, nil, append(base, opts...)...)
	e.cfg = component.Config{"server": CustomServer, "otherServer": srv.BaseURL()}
	return e
}

// get sends GET path through the client of e.cfg and returns status and body.
func (e *env) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return e.do(t, http.MethodGet, path, "")
}

func (e *env) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	c, err := e.clients.Client(context.Background(), e.cfg)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.BaseURL()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func okHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", MediaType)
	_, _ = io.WriteString(w, `{"data":{"type":"patient","id":"p1"}}`)
}
