package sandbox

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLatencyIsAdded(t *testing.T) {
	h := newHarness(t, Options{Faults: Faults{Latency: 30 * time.Millisecond}})
	h.login()
	start := time.Now()
	for range 3 {
		expectStatus(t, h.get("/pub/organization/"+h.sb.Seeded().OrganizationID), http.StatusOK)
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Fatalf("3 requests took %s, want at least 90ms", d)
	}
}

func TestFailRateWithinBounds(t *testing.T) {
	h := newHarness(t, Options{Seed: 7, Faults: Faults{FailRate: 0.3}})
	// Obtain a token despite failures (bounded).
	for i := 0; h.token == "" && i < 50; i++ {
		a := h.do("POST", "/pub/oauth/token", MediaType, nestedGrant)
		if a.Status == http.StatusCreated {
			h.token = a.one(t).Attributes["access_token"].(string)
		}
	}
	if h.token == "" {
		t.Fatal("no token in 50 attempts")
	}
	before := h.sb.Stats().Injected5xx
	const n = 1000
	failed := 0
	for range n {
		a := h.get("/pub/organization/" + h.sb.Seeded().OrganizationID)
		switch a.Status {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			expectError(t, a, http.StatusServiceUnavailable, CodeServiceUnavailable)
			failed++
		default:
			t.Fatalf("status %d", a.Status)
		}
	}
	if failed < 240 || failed > 360 {
		t.Fatalf("%d of %d failed, want about 300", failed, n)
	}
	if got := h.sb.Stats().Injected5xx - before; got != int64(failed) {
		t.Fatalf("Injected5xx %d, counted %d", got, failed)
	}
}

func TestFailuresAreDeterministicUnderSeed(t *testing.T) {
	pattern := func() string {
		h := newHarness(t, Options{Seed: 42, Faults: Faults{FailRate: 0.5}})
		var b strings.Builder
		for range 64 {
			a := h.do("GET", "/pub/organization/x", "", "", "Authorization", "Bearer x")
			b.WriteString(map[bool]string{true: "F", false: "."}[a.Status == http.StatusServiceUnavailable])
		}
		return b.String()
	}
	if p1, p2 := pattern(), pattern(); p1 != p2 || !strings.Contains(p1, "F") || !strings.Contains(p1, ".") {
		t.Fatalf("patterns %s / %s", p1, p2)
	}
}

func TestRateLimitEveryNth(t *testing.T) {
	h := newHarness(t, Options{Faults: Faults{RateLimitEvery: 4, RetryAfter: 1500 * time.Millisecond}})
	h.login() // request 1
	org := "/pub/organization/" + h.sb.Seeded().OrganizationID
	var statuses []int
	for range 8 { // requests 2..9
		a := h.get(org)
		statuses = append(statuses, a.Status)
		if a.Status == http.StatusTooManyRequests {
			expectError(t, a, http.StatusTooManyRequests, CodeTooManyRequests)
			if got := a.Header.Get("Retry-After"); got != "2" {
				t.Errorf("Retry-After %q, want 2", got)
			}
		}
	}
	want := []int{200, 200, 429, 200, 200, 200, 429, 200}
	for i := range want {
		if statuses[i] != want[i] {
			t.Fatalf("statuses %v, want %v", statuses, want)
		}
	}
	if got := h.sb.Stats().Injected429; got != 2 {
		t.Fatalf("Injected429 %d", got)
	}
}

func TestRateLimitRate(t *testing.T) {
	h := newHarness(t, Options{Seed: 3, Faults: Faults{RateLimitRate: 0.1}})
	limited := 0
	for range 1000 {
		a := h.do("GET", "/pub/nothing", "", "", "", "")
		if a.Status == http.StatusTooManyRequests {
			if a.Header.Get("Retry-After") != "1" {
				t.Fatalf("Retry-After %q", a.Header.Get("Retry-After"))
			}
			limited++
		}
	}
	if limited < 60 || limited > 140 {
		t.Fatalf("%d of 1000 limited, want about 100", limited)
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	h := newHarness(t, Options{Faults: Faults{TokenFailures: 2}})
	for i := range 2 {
		expectError(t, h.do("POST", "/pub/oauth/token", MediaType, nestedGrant), http.StatusServiceUnavailable, CodeServiceUnavailable)
		_ = i
	}
	expectStatus(t, h.do("POST", "/pub/oauth/token", MediaType, nestedGrant), http.StatusCreated)
	// Other operations are not affected.
	expectStatus(t, h.get("/pub/organization/"+h.sb.Seeded().OrganizationID), http.StatusOK)
	if st := h.sb.Stats(); st.TokenFaults != 2 || st.TokenExchanges != 2 {
		t.Fatalf("stats %+v", st)
	}

	down := newHarness(t, Options{Faults: Faults{TokenDownFor: time.Minute}})
	expectError(t, down.do("POST", "/pub/oauth/token", MediaType, nestedGrant), http.StatusServiceUnavailable, CodeServiceUnavailable)
	down.clock.Add(59 * time.Second)
	expectError(t, down.do("POST", "/pub/oauth/token", MediaType, nestedGrant), http.StatusServiceUnavailable, CodeServiceUnavailable)
	down.clock.Add(time.Second)
	expectStatus(t, down.do("POST", "/pub/oauth/token", MediaType, nestedGrant), http.StatusCreated)
}

func TestFaultOptionsChecked(t *testing.T) {
	for _, f := range []Faults{{FailRate: 1.5}, {RateLimitRate: -0.1}, {FailStatus: 404}, {RateLimitEvery: -1}} {
		if _, err := New(Options{NoValidation: true, Faults: f}); err == nil {
			t.Errorf("faults %+v accepted", f)
		}
	}
}

func TestStartServesOnLoopback(t *testing.T) {
	sb, err := New(Options{NoValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/pub") || sb.BaseURL() != base {
		t.Fatalf("base URL %q", base)
	}
	if _, err := sb.Start("127.0.0.1:0"); err == nil {
		t.Fatal("second Start accepted")
	}
	resp, err := http.Post(base+"/oauth/token", "application/json",
		strings.NewReader(`{"grant_type":"client_credentials","client_id":"sandbox-client","client_secret":"sandbox-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Content-Type") != MediaType {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/organization/x"); err == nil {
		t.Fatal("server still answers after Close")
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	a := newHarness(t, Options{Seed: 5})
	b := newHarness(t, Options{Seed: 5})
	c := newHarness(t, Options{Seed: 6})
	q := "/pub/patient?page[size]=50&filter[organization]="
	ra := a.get(q + a.sb.Seeded().OrganizationID).Raw
	rb := b.get(q + b.sb.Seeded().OrganizationID).Raw
	rc := c.get(q + c.sb.Seeded().OrganizationID).Raw
	if ra != rb {
		t.Fatal("equal seeds gave different patients")
	}
	if ra == rc {
		t.Fatal("different seeds gave equal patients")
	}
	if a.token != b.token {
		t.Fatal("equal seeds gave different tokens")
	}
}
