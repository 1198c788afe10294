// Package sandbox is a local simulator of the Fitbit Plus API: the JSON:API
// token exchange, bearer authentication, the 58 operations over a seeded
// in-memory store, filters, both paging styles, request validation against
// swagger.json and fault injection. Tests, the demo and benchmarks use it in
// process through Handler; `connector sandbox` serves it over HTTP.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	connector "github.com/fitbitplus/connector"
)

// The client credentials the sandbox accepts when Options.Clients is empty.
const (
	DefaultClientID     = "sandbox-client"
	DefaultClientSecret = "sandbox-secret"
)

// BasePath is the path prefix of every operation.
const BasePath = "/pub"

// maxBody bounds a request body (bulk metric creation included).
const maxBody = 8 << 20

// Options configure a Sandbox. The zero value is a working sandbox with the
// default client, one-hour tokens, seed 0, validation against the embedded
// swagger.json and no faults.
type Options struct {
	// Seed makes the seeded organisation, ids, tokens and injected faults
	// reproducible: equal seeds, clocks and request sequences give equal answers.
	Seed int64
	// Clients maps client id to client secret. Empty: DefaultClientID and
	// DefaultClientSecret.
	Clients map[string]string
	// TokenLifetime is how long an access token is valid (default 1h).
	TokenLifetime time.Duration
	// Now is the clock (default time.Now). The seeded data is dated relative
	// to the clock at New, truncated to the day.
	Now func() time.Time
	// Patients is the number of patients the seeded organisation has
	// (default and minimum DefaultPatients, at most MaxPatients). Patients
	// beyond the first DefaultPatients have three metrics each and no other
	// data, so that a large organisation is cheap to seed.
	Patients int
	// IDTime gives the time the first four bytes of an id carry for a
	// resource created through the API at stored (nil: stored itself, as
	// ids made by the store when it writes). A test sets it to make ids that
	// lag the order the store lists resources in, as an id made by an app
	// server whose clock is behind, or made well before a delayed insert.
	// It is called under the store's write lock.
	IDTime func(stored time.Time) time.Time
	// Spec is the Swagger 2.0 JSON that requests are validated against; nil
	// means connector.SwaggerJSON. A spec without paths disables validation.
	Spec []byte
	// NoValidation turns request validation against the spec off (the
	// sandbox's own checks of filters, paging and bodies stay on).
	NoValidation bool
	// Faults are injected failures for tests and benchmarks.
	Faults Faults
	// Objects, when set, is served under /objects beside the API: the
	// platform's object storage for lightweight messages.
	Objects *ObjectStore
	// Logger gets one debug line per request (method, path, operation,
	// status, duration; never queries, bodies or tokens). Nil: no logging.
	Logger *slog.Logger
}

// Faults are independent knobs; each applies on its own and they combine.
// Latency, RateLimit* and FailRate apply to every request, the token
// exchange included, in this order: the delay, then a possible 429, then a
// possible 5xx. Token* apply to the token exchange only.
type Faults struct {
	// Latency is added to every request before it is answered.
	Latency time.Duration
	// FailRate is the fraction (0..1) of requests answered FailStatus,
	// drawn from a random source seeded by Options.Seed.
	FailRate float64
	// FailStatus is the status of injected failures (default 503).
	FailStatus int
	// RateLimitRate is the fraction (0..1) of requests answered 429.
	RateLimitRate float64
	// RateLimitEvery answers every Nth request (N, 2N, ...) with 429.
	RateLimitEvery int
	// RetryAfter is the Retry-After of a 429 answer, in whole seconds
	// rounded up (default 1s).
	RetryAfter time.Duration
	// TokenFailures answers the first N token exchanges with 503.
	TokenFailures int
	// TokenDownFor answers token exchanges with 503 until this long after New
	// (by the Options.Now clock).
	TokenDownFor time.Duration
}

// Bounds of Options.Patients.
const (
	DefaultPatients = 60
	MaxPatients     = 100_000
)

// Identifier is a patient identifier.
type Identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// Seeded tells tests and the demo what the seed put in the store.
type Seeded struct {
	ClientID          string
	ClientSecret      string
	OrganizationID    string
	GroupIDs          []string // in creation order; GroupNames alike
	GroupNames        []string
	CoachIDs          []string
	PatientIDs        []string // every seeded patient, in the order seeded
	PatientID         string   // a patient with metrics, events, a plan, a health profile and rewards
	PatientIdentifier Identifier
	RewardProgramID   string
	CalendarEventID   string
}

// Stats counts what the sandbox answered since New.
type Stats struct {
	Requests       int64            // every request
	TokenExchanges int64            // successful token exchanges (201), both grants
	TokenRefreshes int64            // successful refresh_token grants (also in TokenExchanges)
	TokenFaults    int64            // token exchanges failed by TokenFailures/TokenDownFor
	Injected5xx    int64            // FailRate answers
	Injected429    int64            // RateLimit answers
	Unauthorized   int64            // 401 answers
	Invalid        int64            // 409 answers
	NotFound       int64            // 404 answers
	Operations     map[string]int64 // requests routed to each operation, by operationId
}

// Sandbox is the simulator. It is safe for concurrent use.
type Sandbox struct {
	opts    Options
	now     func() time.Time
	started time.Time
	clients map[string]string

	mu     sync.RWMutex // guards db
	db     *store
	gen    atomic.Uint64 // bumped by every write operation: invalidates encoded resources
	seeded Seeded

	tokMu  sync.RWMutex // guards tokens
	tokens *tokenStore

	faultMu  sync.Mutex
	faultRNG *rand.Rand
	faultN   atomic.Int64
	tokenN   atomic.Int64

	reqN     atomic.Uint64
	counters counters
	opCount  map[string]*atomic.Int64

	handler   http.Handler
	validator *validator

	srvMu   sync.Mutex
	srv     *http.Server
	baseURL string
}

type counters struct {
	requests, tokenExchanges, tokenRefreshes, tokenFaults atomic.Int64
	injected5xx, injected429, unauthorized, invalid       atomic.Int64
	notFound                                              atomic.Int64
}

// New builds a sandbox and seeds its store.
func New(opts Options) (*Sandbox, error) {
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Faults.FailStatus == 0 {
		opts.Faults.FailStatus = http.StatusServiceUnavailable
	}
	if opts.Faults.RetryAfter <= 0 {
		opts.Faults.RetryAfter = time.Second
	}
	if opts.Faults.FailRate < 0 || opts.Faults.FailRate > 1 || opts.Faults.RateLimitRate < 0 || opts.Faults.RateLimitRate > 1 {
		return nil, errors.New("fault rates must be between 0 and 1")
	}
	if opts.Faults.FailStatus < 500 || opts.Faults.FailStatus > 599 {
		return nil, fmt.Errorf("fail status %d is not a 5xx status", opts.Faults.FailStatus)
	}
	if opts.Faults.RateLimitEvery < 0 || opts.Faults.TokenFailures < 0 {
		return nil, errors.New("fault counts must not be negative")
	}
	if opts.Patients == 0 {
		opts.Patients = DefaultPatients
	}
	if opts.Patients < DefaultPatients || opts.Patients > MaxPatients {
		return nil, fmt.Errorf("patients must be from %d to %d, not %d", DefaultPatients, MaxPatients, opts.Patients)
	}
	s := &Sandbox{opts: opts, now: opts.Now, clients: opts.Clients}
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.clients) == 0 {
		s.clients = map[string]string{DefaultClientID: DefaultClientSecret}
	}
	s.started = s.now()
	s.db = newStore(opts.Seed)
	s.tokens = newTokenStore(opts.Seed)
	s.faultRNG = rand.New(rand.NewPCG(uint64(opts.Seed), 0xfa017))
	s.seeded = seed(s.db, s.started, opts.Patients)
	s.db.idTime = opts.IDTime
	s.seeded.ClientID, s.seeded.ClientSecret = s.defaultClient()
	if !opts.NoValidation {
		spec := opts.Spec
		if spec == nil {
			spec = connector.SwaggerJSON
		}
		v, err := newValidator(spec)
		if err != nil {
			return nil, fmt.Errorf("load spec: %w", err)
		}
		s.validator = v
	}
	s.opCount = map[string]*atomic.Int64{}
	s.handler = s.routes()
	if opts.Objects != nil {
		mux := http.NewServeMux()
		mux.Handle("/objects", opts.Objects)
		mux.Handle("/objects/", opts.Objects)
		mux.Handle("/", s.handler)
		s.handler = mux
	}
	return s, nil
}

// defaultClient is the client the sandbox advertises: the default pair, or
// the first client id in sorted order.
func (s *Sandbox) defaultClient() (string, string) {
	if sec, ok := s.clients[DefaultClientID]; ok {
		return DefaultClientID, sec
	}
	var id string
	for k := range s.clients {
		if id == "" || k < id {
			id = k
		}
	}
	return id, s.clients[id]
}

// Handler serves the API under BasePath ("/pub/...").
func (s *Sandbox) Handler() http.Handler { return s.handler }

// Validating reports whether requests are validated against a spec.
func (s *Sandbox) Validating() bool { return s.validator != nil }

// Seeded describes the seeded organisation.
func (s *Sandbox) Seeded() Seeded {
	out := s.seeded
	out.GroupIDs = append([]string(nil), out.GroupIDs...)
	out.GroupNames = append([]string(nil), out.GroupNames...)
	out.CoachIDs = append([]string(nil), out.CoachIDs...)
	out.PatientIDs = append([]string(nil), out.PatientIDs...)
	return out
}

// Stats returns a snapshot of the counters.
func (s *Sandbox) Stats() Stats {
	c := &s.counters
	st := Stats{
		Requests: c.requests.Load(), TokenExchanges: c.tokenExchanges.Load(), TokenRefreshes: c.tokenRefreshes.Load(),
		TokenFaults: c.tokenFaults.Load(), Injected5xx: c.injected5xx.Load(), Injected429: c.injected429.Load(),
		Unauthorized: c.unauthorized.Load(), Invalid: c.invalid.Load(), NotFound: c.notFound.Load(),
		Operations: map[string]int64{},
	}
	for id, n := range s.opCount {
		if v := n.Load(); v > 0 {
			st.Operations[id] = v
		}
	}
	return st
}

// Start serves the sandbox on addr (host defaults to 127.0.0.1; port 0 picks
// one) and returns the base URL, e.g. "http://127.0.0.1:8080/pub".
func (s *Sandbox) Start(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv != nil {
		return "", errors.New("sandbox already started")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.baseURL = "http://" + ln.Addr().String() + BasePath
	go func() { _ = s.srv.Serve(ln) }()
	return s.baseURL, nil
}

// BaseURL is the base URL Start listens on ("" before Start).
func (s *Sandbox) BaseURL() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return s.baseURL
}

// Close stops a started server, letting requests in flight finish for up to
// five seconds. It is a no-op without Start.
func (s *Sandbox) Close() error {
	s.srvMu.Lock()
	srv := s.srv
	s.srvMu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shut down sandbox: %w", err)
	}
	return nil
}

// call is one request being answered.
type call struct {
	s     *Sandbox
	r     *http.Request
	op    *operation
	body  []byte
	query url.Values
	tok   *token
	now   time.Time
	reqID string
}

// reply is a handler's answer.
type reply struct {
	status int
	doc    *document
}

// serve runs one request through faults, authentication, validation and
// the operation's handler.
func (s *Sandbox) serve(w http.ResponseWriter, r *http.Request, op *operation) {
	start := time.Now()
	c := &call{s: s, r: r, op: op, reqID: "req-" + strconv.FormatUint(s.reqN.Add(1), 10)}
	s.counters.requests.Add(1)
	if op != nil {
		s.opCount[op.ID].Add(1)
	}
	status := s.answer(w, c)
	if l := s.opts.Logger; l != nil && l.Enabled(r.Context(), slog.LevelDebug) {
		name := ""
		if op != nil {
			name = op.ID
		}
		l.LogAttrs(r.Context(), slog.LevelDebug, "sandbox request", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.String("operation", name), slog.Int("status", status),
			slog.Duration("duration", time.Since(start)), slog.String("req_id", c.reqID))
	}
}

func (s *Sandbox) answer(w http.ResponseWriter, c *call) int {
	if err := s.injectFault(w, c); err != nil {
		return s.writeError(w, c, err)
	}
	if c.op == nil {
		return s.writeError(w, c, &apiError{Status: http.StatusNotFound, Code: CodeResourceNotFound,
			Title: "Resource not found", Detail: "no operation at " + c.r.Method + " " + c.r.URL.Path})
	}
	body, err := io.ReadAll(io.LimitReader(c.r.Body, maxBody+1))
	if err != nil {
		return s.writeError(w, c, invalidBody("", "read body: %v", err))
	}
	if len(body) > maxBody {
		return s.writeError(w, c, invalidBody("", "body larger than %d bytes", maxBody))
	}
	c.body = body
	c.now = s.now()
	if !c.op.Public {
		tok, err := s.authenticate(c.r, c.now)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fitbitplus-sandbox"`)
			return s.writeError(w, c, err)
		}
		c.tok = tok
	}
	if err := c.checkContentType(); err != nil {
		return s.writeError(w, c, err)
	}
	c.query = c.r.URL.Query()
	if err := c.checkQuery(); err != nil {
		return s.writeError(w, c, err)
	}
	if s.validator != nil && !c.op.Public {
		if err := s.validator.validate(c.r, body); err != nil {
			return s.writeError(w, c, err)
		}
	}
	rep, b, err := s.run(c)
	if err != nil {
		return s.writeError(w, c, err)
	}
	w.Header().Set("Content-Type", MediaType)
	w.Header().Set("X-Request-Id", c.reqID)
	w.WriteHeader(rep.status)
	_, _ = w.Write(b)
	return rep.status
}

// checkContentType refuses a write whose body is not JSON:API, with 403
// Forbidden as the token exchange does (the token exchange checks its own).
func (c *call) checkContentType() error {
	if !c.op.Write || c.op.Method == http.MethodDelete {
		return nil
	}
	mt, _, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err == nil && mt == MediaType {
		return nil
	}
	return &apiError{Status: http.StatusForbidden, Code: CodeForbidden, Title: "Forbidden",
		Detail: "request bodies must be sent as " + MediaType}
}

// run calls the handler under the store lock and encodes its answer there.
func (s *Sandbox) run(c *call) (*reply, []byte, error) {
	if c.op.Write {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.gen.Add(1)
		// A write takes its time (and so its ids) under the lock: writes
		// then land in the store's order (creation time, then id) in the
		// order they are made, and a list only grows at its end.
		c.now = s.now()
	} else {
		s.mu.RLock()
		defer s.mu.RUnlock()
	}
	rep, err := c.op.Handle(c)
	if err != nil {
		return nil, nil, err
	}
	if rep.doc.Meta == nil {
		rep.doc.Meta = map[string]any{}
	}
	rep.doc.Meta["req_id"] = c.reqID
	b, err := marshalDoc(rep.doc)
	return rep, b, err
}

func (s *Sandbox) writeError(w http.ResponseWriter, c *call, err error) int {
	var list errorList
	var one *apiError
	switch {
	case errors.As(err, &list) && len(list) > 0:
	case errors.As(err, &one):
		list = errorList{one}
	default:
		list = errorList{{Status: http.StatusInternalServerError, Code: "InternalError", Title: "Internal error",
			Detail: err.Error()}}
	}
	status := list[0].Status
	switch status {
	case http.StatusUnauthorized:
		s.counters.unauthorized.Add(1)
	case http.StatusConflict:
		s.counters.invalid.Add(1)
	case http.StatusNotFound:
		s.counters.notFound.Add(1)
	}
	doc := &document{Meta: map[string]any{"req_id": c.reqID}}
	for _, e := range list {
		doc.Errors = append(doc.Errors, e.object())
	}
	b, _ := marshalDoc(doc)
	w.Header().Set("Content-Type", MediaType)
	w.Header().Set("X-Request-Id", c.reqID)
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}
