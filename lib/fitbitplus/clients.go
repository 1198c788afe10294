package fitbitplus

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/secrets"
)

// Clients gives authenticated API clients per credential. Create one per
// process with NewClients and share it: it caches one token per credential
// (base URL, client id and a hash of the secret).
//
// The RoundTripper chain of a client, outermost first:
//
//	auth (bearer token; on 401: invalidate, refresh once, resend once)
//	  → retry (429/5xx/timeouts/dial errors, backoff with jitter, Retry-After)
//	    → base (the http.RoundTripper given to NewClients: connection pooling, TLS, dial timeouts)
//
// Auth sits outside retry so that a 401 costs one refresh whatever the number
// of retries, and retried attempts reuse the request as signed. The token
// exchange itself goes through retry → base (it is safe to repeat).
//
// A request whose context was made with WithoutToken is sent without a bearer
// token (the token exchange operation, createToken, needs none).
//
// Clients implements component.APIProvider.
type Clients struct {
	defaults Defaults
	opts     options
	retry    *retryTransport
	plain    *http.Client // retry → base, for the token exchange

	mu      sync.Mutex
	sources map[credentialKey]*tokenSource
}

var _ component.APIProvider = (*Clients)(nil)

type options struct {
	ctx            context.Context
	retry          RetryPolicy
	attemptTimeout time.Duration
	tokenTimeout   time.Duration
	now            func() time.Time
	sleep          func(context.Context, time.Duration) error
	jitter         func() float64
	log            *slog.Logger
	secrets        *secrets.Redactor
}

// Option configures NewClients.
type Option func(*options)

// WithRetryPolicy sets the retry policy (default DefaultRetryPolicy()).
func WithRetryPolicy(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithAttemptTimeout bounds each HTTP attempt, response body included
// (default 30s; 0 or less: no bound besides the request's context).
func WithAttemptTimeout(d time.Duration) Option { return func(o *options) { o.attemptTimeout = d } }

// WithTokenTimeout bounds one token exchange with its retries (default 60s).
func WithTokenTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.tokenTimeout = d
		}
	}
}

// WithBaseContext sets the long-lived context token exchanges run under
// (default context.Background()). Cancel it only at shutdown.
func WithBaseContext(ctx context.Context) Option { return func(o *options) { o.ctx = ctx } }

// WithClock replaces time.Now for token expiry and Retry-After dates (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithSleep replaces the wait between retries (tests). It must return the
// context's error when the context ends first.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(o *options) { o.sleep = sleep }
}

// WithJitter replaces the random source of the backoff: a function returning
// a number in [0, 1) (tests).
func WithJitter(f func() float64) Option { return func(o *options) { o.jitter = f } }

// WithLogger sets the logger (default: discard). Only debug records are
// written, never secrets, tokens or bodies.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithSecrets registers every client secret a credential brings and every
// token obtained with r, so that the process removes them from its logs and
// events.
func WithSecrets(r *secrets.Redactor) Option { return func(o *options) { o.secrets = r } }

// MaxIdleConnsPerHost is the keep-alive pool of DefaultTransport for the API
// host. It is above any prefetch a worker runs with, so that every message in
// flight reuses a connection instead of dialing (and leaving a TIME_WAIT
// socket behind) once the pool is full.
const MaxIdleConnsPerHost = 256

// DefaultTransport returns the base transport used when NewClients gets nil:
// a clone of http.DefaultTransport with bounded dial, TLS and header waits
// and a keep-alive pool of MaxIdleConnsPerHost connections.
func DefaultTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	if t.MaxIdleConns < MaxIdleConnsPerHost {
		t.MaxIdleConns = MaxIdleConnsPerHost
	}
	return t
}

// NewClients creates the client cache. d holds the process-wide defaults of
// the credential fields; base is the innermost RoundTripper (nil means
// DefaultTransport()).
func NewClients(d Defaults, base http.RoundTripper, opts ...Option) *Clients {
	o := options{
		ctx:            context.Background(),
		retry:          DefaultRetryPolicy(),
		attemptTimeout: 30 * time.Second,
		tokenTimeout:   60 * time.Second,
		now:            time.Now,
		sleep:          sleepContext,
		jitter:         rand.Float64,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if base == nil {
		base = DefaultTransport()
	}
	rt := &retryTransport{next: base, policy: o.retry.withDefaults(), attemptTimeout: o.attemptTimeout,
		now: o.now, sleep: o.sleep, jitter: o.jitter, log: o.log}
	return &Clients{
		defaults: d,
		opts:     o,
		retry:    rt,
		plain:    &http.Client{Transport: rt, CheckRedirect: noRedirect},
		sources:  map[credentialKey]*tokenSource{},
	}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Credential resolves the credential of a step configuration with the
// Defaults of c (see ResolveCredential).
func (c *Clients) Credential(cfg component.Config) (Credential, error) {
	return ResolveCredential(cfg, c.defaults)
}

// Client implements component.APIProvider: the client for the credential of
// cfg. No token is fetched until the first request.
func (c *Clients) Client(ctx context.Context, cfg component.Config) (component.APIClient, error) {
	cred, err := c.Credential(cfg)
	if err != nil {
		return nil, err
	}
	return c.source(cred).api, nil
}

// TokenSource returns the cached token source of the credential of cfg, for
// callers that need the token itself (oauth2.Transport, TokenID).
func (c *Clients) TokenSource(cfg component.Config) (oauth2.TokenSource, error) {
	cred, err := c.Credential(cfg)
	if err != nil {
		return nil, err
	}
	return c.source(cred), nil
}

func (c *Clients) source(cred Credential) *tokenSource {
	key := cred.key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sources[key]; ok {
		return s
	}
	c.opts.secrets.Add(cred.ClientSecret)
	s := &tokenSource{cred: cred, client: c.plain, ctx: c.opts.ctx, timeout: c.opts.tokenTimeout,
		now: c.opts.now, log: c.opts.log, secrets: c.opts.secrets}
	s.api = c.clientFor(s)
	c.sources[key] = s
	return s
}

func (c *Clients) clientFor(s *tokenSource) *apiClient {
	return &apiClient{
		base: s.cred.BaseURL,
		http: &http.Client{Transport: &authTransport{next: c.retry, src: s}, CheckRedirect: noRedirect},
	}
}

// WithoutToken marks a request context so that the client sends the request
// without a bearer token (used for operations that are not secured).
func WithoutToken(ctx context.Context) context.Context {
	return context.WithValue(ctx, keyNoToken, true)
}

func withoutToken(ctx context.Context) bool {
	v, _ := ctx.Value(keyNoToken).(bool)
	return v
}

// apiClient implements component.APIClient. Redirects are not followed: a 3xx
// answer is returned as is.
type apiClient struct {
	base string
	http *http.Client
}

func (a *apiClient) BaseURL() string { return a.base }

// Do sends req. A token failure comes back as the *CredentialError itself,
// not wrapped in *url.Error.
func (a *apiClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := a.http.Do(req)
	var ue *url.Error
	if err != nil && errors.As(err, &ue) {
		var ce *CredentialError
		if errors.As(ue.Err, &ce) {
			return nil, ce
		}
	}
	return resp, err
}

// authTransport sets the bearer token; on a 401 it invalidates the token,
// gets a new one and resends the request once.
type authTransport struct {
	next http.RoundTripper
	src  *tokenSource
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if withoutToken(ctx) {
		return t.next.RoundTrip(req)
	}
	tok, err := t.src.token(ctx)
	if err != nil {
		closeRequestBody(req)
		return nil, &notSentError{err}
	}
	resp, err := t.send(req, tok)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !canReplay(req) {
		return resp, err
	}
	drainClose(resp)
	t.src.invalidate(tok.AccessToken)
	t.src.log.DebugContext(ctx, "401 from the API, refreshing the token", "path", req.URL.Path)
	if tok, err = t.src.token(ctx); err != nil {
		return nil, &notSentError{err}
	}
	again, err := replay(req)
	if err != nil {
		return nil, err
	}
	return t.send(again, tok)
}

// send sends req with tok's Authorization header on a shallow copy of it: a
// RoundTripper must not change req, and only the header map changes here
// (req.Clone would also copy the URL and every header value).
func (t *authTransport) send(req *http.Request, tok *oauth2.Token) (*http.Response, error) {
	r := new(http.Request)
	*r = *req
	r.Header = make(http.Header, len(req.Header)+1)
	maps.Copy(r.Header, req.Header)
	tok.SetAuthHeader(r)
	return t.next.RoundTrip(r)
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
