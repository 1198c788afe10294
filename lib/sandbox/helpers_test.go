package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var epoch = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// harness drives a sandbox through its Handler, without a network.
type harness struct {
	t     *testing.T
	sb    *Sandbox
	clock *fakeClock
	token string
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	clock := &fakeClock{t: epoch}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if opts.Spec == nil {
		opts.NoValidation = true
	}
	sb, err := New(opts)
	if err != nil {
		t.Fatalf("new sandbox: %v", err)
	}
	return &harness{t: t, sb: sb, clock: clock}
}

// answer is a decoded response.
type answer struct {
	Status int
	Header http.Header
	Doc    struct {
		Data     json.RawMessage   `json:"data"`
		Included []jsonObject      `json:"included"`
		Links    map[string]string `json:"links"`
		Meta     map[string]any    `json:"meta"`
		Errors   []struct {
			Status, Code, Title, Detail string
			Source                      map[string]string
		} `json:"errors"`
	}
	Raw string
}

type jsonObject struct {
	Type          string                     `json:"type"`
	ID            string                     `json:"id"`
	Attributes    map[string]any             `json:"attributes"`
	Relationships map[string]json.RawMessage `json:"relationships"`
}

func (a *answer) one(t *testing.T) jsonObject {
	t.Helper()
	var o jsonObject
	if err := json.Unmarshal(a.Doc.Data, &o); err != nil {
		t.Fatalf("data is not one object: %v\n%s", err, a.Raw)
	}
	return o
}

func (a *answer) list(t *testing.T) []jsonObject {
	t.Helper()
	var l []jsonObject
	if err := json.Unmarshal(a.Doc.Data, &l); err != nil {
		t.Fatalf("data is not a list: %v\n%s", err, a.Raw)
	}
	return l
}

func (a *answer) count(t *testing.T) int {
	t.Helper()
	n, ok := a.Doc.Meta["count"].(float64)
	if !ok {
		t.Fatalf("no meta.count in %s", a.Raw)
	}
	return int(n)
}

// errCode returns the first error's code and source.
func (a *answer) errCode() (string, map[string]string) {
	if len(a.Doc.Errors) == 0 {
		return "", nil
	}
	return a.Doc.Errors[0].Code, a.Doc.Errors[0].Source
}

// do sends a request; body (if not "") with contentType.
func (h *harness) do(method, target, contentType, body string, header ...string) *answer {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	if !strings.HasPrefix(target, "http") {
		target = "http://sandbox.test" + target
	}
	req := httptest.NewRequest(method, target, rd)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.sb.Handler().ServeHTTP(rec, req)
	a := &answer{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.String()}
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &a.Doc); err != nil {
			h.t.Fatalf("%s %s: answer is not JSON: %v\n%s", method, target, err, rec.Body.String())
		}
	}
	return a
}

// login exchanges the default client credentials for a token.
func (h *harness) login() string {
	h.t.Helper()
	a := h.do("POST", "/pub/oauth/token", MediaType,
		`{"data":{"type":"token","attributes":{"grant_type":"client_credentials","client_id":"sandbox-client","client_secret":"sandbox-secret"}}}`)
	if a.Status != 201 {
		h.t.Fatalf("token exchange: %d %s", a.Status, a.Raw)
	}
	h.token = a.one(h.t).Attributes["access_token"].(string)
	return h.token
}

// get sends an authenticated GET.
func (h *harness) get(target string) *answer {
	h.t.Helper()
	if h.token == "" {
		h.login()
	}
	return h.do("GET", target, "", "", "Authorization", "Bearer "+h.token)
}

// send sends an authenticated JSON:API body.
func (h *harness) send(method, target, body string) *answer {
	h.t.Helper()
	if h.token == "" {
		h.login()
	}
	return h.do(method, target, MediaType, body, "Authorization", "Bearer "+h.token)
}

func expectStatus(t *testing.T, a *answer, status int) {
	t.Helper()
	if a.Status != status {
		t.Fatalf("status %d, want %d: %s", a.Status, status, a.Raw)
	}
}

func expectError(t *testing.T, a *answer, status int, code string) map[string]string {
	t.Helper()
	expectStatus(t, a, status)
	got, src := a.errCode()
	if got != code {
		t.Fatalf("error code %q, want %q: %s", got, code, a.Raw)
	}
	if a.Doc.Meta["req_id"] == nil {
		t.Fatalf("error without meta.req_id: %s", a.Raw)
	}
	return src
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func extractAccessToken(tb testing.TB, body []byte) string {
	tb.Helper()
	var doc struct {
		Data struct {
			Attributes struct {
				AccessToken string `json:"access_token"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Data.Attributes.AccessToken == "" {
		tb.Fatalf("no access token in %s", body)
	}
	return doc.Data.Attributes.AccessToken
}
