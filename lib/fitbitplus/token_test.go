package fitbitplus

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	"golang.org/x/oauth2"
)

func TestTokenCachedAcrossCalls(t *testing.T) {
	var auths []string
	var mu sync.Mutex
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		okHandler(w, r)
	})
	for range 3 {
		if status, _ := e.get(t, "/patient/p1"); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
	}
	if g := e.srv.Grants(); !slices.Equal(g, []string{"client_credentials"}) {
		t.Errorf("exchanges = %v, want one client_credentials", g)
	}
	for _, a := range auths {
		if a != "Bearer access-1" {
			t.Errorf("Authorization = %q", a)
		}
	}
	// Another Client() call for the same credential shares the token.
	e.get(t, "/patient/p1")
	if n := len(e.srv.Grants()); n != 1 {
		t.Errorf("exchanges after a second Client() = %d", n)
	}
}

func TestTokenIDKept(t *testing.T) {
	e := newEnv(t, nil)
	ts, err := e.clients.TokenSource(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if TokenID(tok) != "tok-1" || tok.AccessToken != "access-1" || tok.Type() != "Bearer" {
		t.Errorf("token id %q access %q type %q", TokenID(tok), tok.AccessToken, tok.Type())
	}
	if want := e.clock.Now().Add(time.Hour); !tok.Expiry.Equal(want) {
		t.Errorf("expiry %v, want %v", tok.Expiry, want)
	}
}

func TestProactiveRefreshUsesRefreshToken(t *testing.T) {
	e := newEnv(t, okHandler)
	e.get(t, "/patient/p1")
	e.clock.Advance(time.Hour - 61*time.Second) // still outside the 60s skew
	e.get(t, "/patient/p1")
	if n := len(e.srv.Grants()); n != 1 {
		t.Fatalf("refreshed too early: %v", e.srv.Grants())
	}
	e.clock.Advance(2 * time.Second) // inside the skew, not yet expired
	if status, _ := e.get(t, "/patient/p1"); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if g := e.srv.Grants(); !slices.Equal(g, []string{"client_credentials", "refresh_token"}) {
		t.Errorf("grants = %v", g)
	}
}

func TestShortLivedTokenSkewIsTenPercent(t *testing.T) {
	e := newEnv(t, okHandler)
	e.srv.ExpiresIn = 100
	e.get(t, "/x")
	e.clock.Advance(89 * time.Second)
	e.get(t, "/x")
	if n := len(e.srv.Grants()); n != 1 {
		t.Fatalf("refreshed before 90%% of the lifetime: %v", e.srv.Grants())
	}
	e.clock.Advance(2 * time.Second)
	e.get(t, "/x")
	if n := len(e.srv.Grants()); n != 2 {
		t.Fatalf("not refreshed after 90%% of the lifetime: %v", e.srv.Grants())
	}
}

func TestRefreshRefusedFallsBackToClientCredentials(t *testing.T) {
	e := newEnv(t, okHandler)
	e.get(t, "/x")
	e.srv.RevokeAll()
	e.clock.Advance(time.Hour)
	if status, _ := e.get(t, "/x"); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if g := e.srv.Grants(); !slices.Equal(g, []string{"client_credentials", "refresh_token", "client_credentials"}) {
		t.Errorf("grants = %v", g)
	}
}

func TestConcurrentCallersShareOneExchange(t *testing.T) {
	e := newEnv(t, okHandler)
	release := make(chan struct{})
	e.srv.TokenHook = func() { <-release }
	const callers = 10
	var started, done sync.WaitGroup
	started.Add(callers)
	done.Add(callers)
	statuses := make([]int, callers)
	for i := range callers {
		go func() {
			defer done.Done()
			started.Done()
			statuses[i], _ = e.get(t, "/x")
		}()
	}
	started.Wait()
	// Release the exchange only once every caller waits inside the token
	// source: callers that do not share it would each have sent their own.
	waitInTokenSource(t, callers)
	close(release)
	done.Wait()
	if n := len(e.srv.Grants()); n != 1 {
		t.Errorf("exchanges = %d, want 1", n)
	}
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("caller %d: status %d", i, s)
		}
	}
}

func TestCallerContextEndsWaitButNotTheExchange(t *testing.T) {
	e := newEnv(t, okHandler)
	release := make(chan struct{})
	e.srv.TokenHook = func() { <-release }
	ts := e.clients.source(mustCred(t, e))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := ts.token(ctx); errc <- err }()
	waitInTokenSource(t, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(release)
	// The shared exchange went on under the long-lived context.
	tok, err := ts.token(context.Background())
	if err != nil || tok.AccessToken != "access-1" {
		t.Fatalf("token %v, err %v", tok, err)
	}
	if n := len(e.srv.Grants()); n != 1 {
		t.Errorf("exchanges = %d, want 1", n)
	}
}

// waitInTokenSource waits (bounded) until n goroutines are inside
// (*tokenSource).token, as their stacks show.
func waitInTokenSource(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		stacks := string(buf[:runtime.Stack(buf, true)])
		in := 0
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, ".(*tokenSource).token(") {
				in++
			}
		}
		if in >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines inside the token source after 10 s, want %d", in, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustCred(t *testing.T, e *env) Credential {
	t.Helper()
	c, err := e.clients.Credential(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func Test401RefreshesOnceAndRetries(t *testing.T) {
	var bodies []string
	var mu sync.Mutex
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		okHandler(w, r)
	})
	e.get(t, "/x")
	e.srv.RevokeAccess() // the server forgets the token before its expiry
	status, _ := e.do(t, http.MethodPost, "/action", `{"data":{"type":"action"}}`)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if g := e.srv.Grants(); !slices.Equal(g, []string{"client_credentials", "refresh_token"}) {
		t.Errorf("grants = %v", g)
	}
	// The POST reached the handler once (the 401 came from the bearer check)
	// and its body was replayed intact.
	if len(bodies) != 2 || bodies[1] != `{"data":{"type":"action"}}` {
		t.Errorf("bodies = %q", bodies)
	}
}

func Test401TwiceIsReturned(t *testing.T) {
	calls := 0
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", MediaType)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"errors":[{"status":"401","code":"Unauthorized"}]}`)
	})
	status, _ := e.get(t, "/x")
	if status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", status)
	}
	if calls != 2 || len(e.srv.Grants()) != 2 {
		t.Errorf("calls %d, exchanges %d; want 2 and 2", calls, len(e.srv.Grants()))
	}
}

func TestInvalidCredential(t *testing.T) {
	e := newEnv(t, okHandler)
	e.cfg["clientSecret"] = "wrong-secret"
	c, err := e.clients.Client(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, c.BaseURL()+"/x", nil)
	resp, err := c.Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	var ce *CredentialError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %T %v, want *CredentialError", err, err)
	}
	var de component.DescribedError = ce
	if de.ErrorName() != "InvalidCredential" || ce.Status != 401 || ce.Code != "InvalidCredentials" || ce.ReqID != "req-fake" {
		t.Errorf("got %+v", ce)
	}
	msg := err.Error()
	for _, want := range []string{"invalid credential", testID, "InvalidCredentials", "client id or secret is wrong"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "wrong-secret") || strings.Contains(msg, testSecret) {
		t.Errorf("message leaks the secret: %q", msg)
	}
	if IsTransient(err) {
		t.Error("a refused credential is transient")
	}
	if fields := ce.ErrorFields(); fields["code"] != "InvalidCredentials" || fields["client_id"] != testID {
		t.Errorf("fields %v", fields)
	}
	// No retries of the refused exchange.
	if n := len(e.srv.Grants()); n != 1 {
		t.Errorf("exchanges = %d", n)
	}
}

func TestWrongServerIsCredentialError(t *testing.T) {
	e := newEnv(t, okHandler)
	e.cfg["otherServer"] = e.srv.URL + "/nope"
	_, err := e.clients.VerifyCredentials(context.Background(), e.cfg)
	var ce *CredentialError
	if !errors.As(err, &ce) || ce.Field != "server" || ce.Status != 404 {
		t.Fatalf("err = %v", err)
	}
}

func TestWithoutTokenSendsNoBearer(t *testing.T) {
	e := newEnv(t, nil)
	var got []string
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusCreated)
	})
	c, _ := e.clients.Client(context.Background(), e.cfg)
	req, _ := http.NewRequestWithContext(WithoutToken(context.Background()), http.MethodPost, c.BaseURL()+"/oauth/token", strings.NewReader("{}"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) != 1 || got[0] != "" {
		t.Errorf("Authorization headers %q, want one empty", got)
	}
}

func TestFakeTokenEndpointRefusesOtherContentTypes(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := http.Post(e.srv.BaseURL()+"/oauth/token", "application/x-www-form-urlencoded",
		strings.NewReader("grant_type=client_credentials&client_id="+testID+"&client_secret="+testSecret))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("form post: status %d, want 403", resp.StatusCode)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAuthTransportLeavesTheRequestAlone: the token goes on the request sent,
// never on the caller's, whose header map stays as it was.
func TestAuthTransportLeavesTheRequestAlone(t *testing.T) {
	var sent *http.Request
	tr := &authTransport{next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = r
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	})}
	req, _ := http.NewRequest(http.MethodPost, "http://api.test/patient", strings.NewReader("{}"))
	req.Header.Set("Accept", MediaType)
	if _, err := tr.send(req, &oauth2.Token{AccessToken: "a1", TokenType: "Bearer"}); err != nil {
		t.Fatal(err)
	}
	if len(req.Header) != 1 || req.Header.Get("Authorization") != "" {
		t.Errorf("caller's header changed: %v", req.Header)
	}
	if sent.Header.Get("Authorization") != "Bearer a1" || sent.Header.Get("Accept") != MediaType ||
		sent.Method != req.Method || sent.URL.String() != req.URL.String() || sent.Body != req.Body || sent.Context() != req.Context() {
		t.Errorf("sent %s %s %v", sent.Method, sent.URL, sent.Header)
	}
}
