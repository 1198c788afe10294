package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fitbitplus"
	"github.com/fitbitplus/connector/lib/sandbox"
)

// clock is the injectable clock shared by the sandbox and the triggers.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// gate wraps the sandbox: it hides resources from list answers until they
// are released (a record that becomes visible late), and fails requests
// while failing is set (a poll that fails halfway).
type gate struct {
	next http.Handler

	mu      sync.Mutex
	hidden  map[string]bool
	failing func(r *http.Request) bool
	before  func(r *http.Request) // called before each request is served (outside mu)
	lists   int
}

func (g *gate) hide(id string) { g.mu.Lock(); g.hidden[id] = true; g.mu.Unlock() }
func (g *gate) release(id string) {
	g.mu.Lock()
	delete(g.hidden, id)
	g.mu.Unlock()
}
func (g *gate) failWhen(f func(r *http.Request) bool) { g.mu.Lock(); g.failing = f; g.mu.Unlock() }
func (g *gate) beforeEach(f func(r *http.Request))    { g.mu.Lock(); g.before = f; g.mu.Unlock() }

// gets returns how many GET requests the gate passed since the last call.
func (g *gate) gets() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.lists
	g.lists = 0
	return n
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	fail := g.failing != nil && g.failing(r)
	hidden := len(g.hidden) > 0
	if r.Method == http.MethodGet {
		g.lists++
	}
	before := g.before
	g.mu.Unlock()
	if before != nil {
		before(r)
	}
	if fail {
		w.Header().Set("Content-Type", fitbitplus.MediaType)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"errors":[{"status":"503","code":"Unavailable","title":"Service Unavailable"}]}`)
		return
	}
	if !hidden || r.Method != http.MethodGet {
		g.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	g.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	var doc map[string]json.RawMessage
	var data []json.RawMessage
	if json.Unmarshal(body, &doc) == nil && json.Unmarshal(doc["data"], &data) == nil {
		kept := data[:0]
		for _, d := range data {
			var x struct{ ID string }
			_ = json.Unmarshal(d, &x)
			g.mu.Lock()
			h := g.hidden[x.ID]
			g.mu.Unlock()
			if !h {
				kept = append(kept, d)
			}
		}
		doc["data"], _ = json.Marshal(kept)
		body, _ = json.Marshal(doc)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// env is a sandbox behind a gate, a clock, and a step whose snapshot
// persists across polls the way the platform keeps it.
type env struct {
	t        testing.TB
	clk      *clock
	sb       *sandbox.Sandbox
	gate     *gate
	base     string
	clients  *fitbitplus.Clients
	cfg      component.Config
	snapshot json.RawMessage
	emitted  []string // "id@updated_at" (or metric ids) of every data message, in order
	bodies   [][]byte
	snaps    int // snapshot events so far
	maxSnap  int // largest snapshot emitted
	log      *slog.Logger
	direct   bool // clients call the gate in process, without a network
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, sandbox.Options{Seed: 7})
}

// newEnvWith is newEnv with a sandbox of other options (its clock is the
// env's).
func newEnvWith(t testing.TB, opts sandbox.Options) *env {
	t.Helper()
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	opts.Now = clk.Now
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{next: sb.Handler(), hidden: map[string]bool{}}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	e := &env{t: t, clk: clk, sb: sb, gate: g, base: srv.URL + sandbox.BasePath}
	e.clients = e.newClients()
	e.cfg = component.Config{
		"server": fitbitplus.CustomServer, "otherServer": e.base,
		"clientId": sandbox.DefaultClientID, "clientSecret": sandbox.DefaultClientSecret,
		FieldOrganization: sb.Seeded().OrganizationID,
		FieldStartTime:    start.Format(time.RFC3339),
		FieldLookback:     "5m",
		FieldPageSize:     "3",
	}
	return e
}

func (e *env) newClients() *fitbitplus.Clients {
	noSleep := func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	var base http.RoundTripper
	if e.direct {
		base = inProcess{e.gate}
	}
	return fitbitplus.NewClients(fitbitplus.Defaults{ClientID: sandbox.DefaultClientID,
		ClientSecret: sandbox.DefaultClientSecret}, base, fitbitplus.WithSleep(noSleep), fitbitplus.WithClock(e.clk.Now))
}

// inProcess is a RoundTripper serving requests with a handler in the test's
// process: the same requests and answers as over the server's socket, for
// tests that send tens of thousands.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = r.URL.Host
	if r.Body == nil {
		r.Body = http.NoBody // as a server's request has
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// stepEmitter records what one poll emits; snapshots persist at once.
type stepEmitter struct {
	e        *env
	data     []*component.Message
	failData int // fail the n-th Data call (1-based); 0: never
}

func (s *stepEmitter) Data(_ context.Context, m *component.Message) error {
	if s.failData > 0 && len(s.data)+1 == s.failData {
		return fmt.Errorf("broker unavailable")
	}
	s.data = append(s.data, m)
	return nil
}
func (s *stepEmitter) Error(context.Context, error) error   { return nil }
func (s *stepEmitter) Rebound(context.Context, error) error { return nil }
func (s *stepEmitter) Snapshot(_ context.Context, b json.RawMessage) error {
	s.e.snapshot = append(json.RawMessage(nil), b...)
	s.e.snaps++
	s.e.maxSnap = max(s.e.maxSnap, len(b))
	return nil
}
func (s *stepEmitter) UpdateSnapshot(context.Context, json.RawMessage) error { return nil }
func (s *stepEmitter) UpdateKeys(context.Context, json.RawMessage) error     { return nil }
func (s *stepEmitter) HTTPReply(context.Context, component.HTTPReply) error  { return nil }

// poll runs one poll of fn and returns the keys of what it emitted.
func (e *env) poll(fn component.Function, failData int) ([]string, error) {
	e.t.Helper()
	em := &stepEmitter{e: e, failData: failData}
	snap := e.snapshot
	if snap == nil {
		snap = json.RawMessage("{}")
	}
	ex := &component.Exec{Msg: &component.Message{Body: json.RawMessage("{}")}, Cfg: e.cfg, Snapshot: snap,
		Emit: em, API: e.clients, Log: e.log}
	err := fn.Process(context.Background(), ex)
	var keys []string
	for _, m := range em.data {
		keys = append(keys, e.key(m.Body))
		e.bodies = append(e.bodies, m.Body)
	}
	e.emitted = append(e.emitted, keys...)
	return keys, err
}

// key is "id@updated_at" of a single-resource document (metrics: "id").
func (e *env) key(body []byte) string {
	var doc struct {
		Data struct {
			ID         string `json:"id"`
			Attributes struct {
				UpdatedAt string `json:"updated_at"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Data.ID == "" {
		e.t.Fatalf("not a single-resource document: %s", body)
	}
	if doc.Data.Attributes.UpdatedAt == "" {
		return doc.Data.ID
	}
	return doc.Data.ID + "@" + doc.Data.Attributes.UpdatedAt
}

// call sends an API request through the step's credential and returns data.
func (e *env) call(method, path string, body any) map[string]any {
	e.t.Helper()
	client, err := e.clients.Client(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.base+path, rd)
	req.Header.Set("Content-Type", fitbitplus.MediaType)
	req.Header.Set("Accept", fitbitplus.MediaType)
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	var doc struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return doc.Data
}

// version is "id@updated_at" of a resource answered by the API.
func version(data map[string]any) string {
	attrs, _ := data["attributes"].(map[string]any)
	return fmt.Sprint(data["id"]) + "@" + fmt.Sprint(attrs["updated_at"])
}

func (e *env) createPatient(name string) string {
	g := e.sb.Seeded().GroupIDs[0]
	return version(e.call("POST", "/patient", map[string]any{"data": map[string]any{"type": "patient",
		"attributes":    map[string]any{"first_name": name, "last_name": "Test"},
		"relationships": map[string]any{"groups": map[string]any{"data": []any{map[string]any{"type": "group", "id": g}}}}}}))
}

func (e *env) updatePatient(id, name string) string {
	return version(e.call("PATCH", "/patient/"+id, map[string]any{"data": map[string]any{"type": "patient", "id": id,
		"attributes": map[string]any{"first_name": name}}}))
}

func idOf(v string) string { id, _, _ := strings.Cut(v, "@"); return id }

// checkOrdered fails unless keys are in (updated_at, id) order.
func checkOrdered(t *testing.T, keys []string) {
	t.Helper()
	sorted := slices.SortedFunc(slices.Values(keys), func(a, b string) int {
		ia, ta, _ := strings.Cut(a, "@")
		ib, tb, _ := strings.Cut(b, "@")
		if c := strings.Compare(ta, tb); c != 0 {
			return c
		}
		return strings.Compare(ia, ib)
	})
	if !slices.Equal(sorted, keys) {
		t.Fatalf("not in (updated_at, id) order:\n%v", keys)
	}
}

// checkExactlyOnce fails unless every version in want was emitted exactly
// once and nothing else was emitted.
func checkExactlyOnce(t *testing.T, emitted, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, k := range emitted {
		count[k]++
	}
	for k, n := range count {
		if n > 1 {
			t.Errorf("%s emitted %d times", k, n)
		}
	}
	for _, k := range want {
		if count[k] == 0 {
			t.Errorf("%s never emitted", k)
		}
	}
	if len(count) != len(want) {
		t.Errorf("emitted %d distinct versions, want %d", len(count), len(want))
	}
}
