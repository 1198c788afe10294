package fitbitplus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RetryPolicy bounds the retries of one request.
//
// What is retried:
//   - 429 Too Many Requests, for every method: the server refused the request.
//   - 503 Service Unavailable with a Retry-After header, for every method: the
//     server refused the request and said when to come back.
//   - 500, 502, 503 and 504 without that, timeouts and broken connections:
//     only for idempotent requests (GET, HEAD, OPTIONS, TRACE, PUT, DELETE, a
//     request with an Idempotency-Key header, and the token exchange), because
//     a POST or PATCH may have reached the server and been applied.
//   - failures to connect (dial errors such as connection refused), for every
//     method: the request never left the client.
//
// The wait before retry n (0-based) is Retry-After when the response has one
// (seconds or an HTTP date), else a full-jitter backoff: a random duration in
// [0, min(MaxDelay, BaseDelay·2ⁿ)). A Retry-After longer than MaxDelay, or a
// wait that would outlast the request's context deadline, is not waited for:
// the last response or error is returned at once, and the caller rebounds the
// message so that the platform retries it later. Bodies are replayed through
// Request.GetBody; a request with a body and no GetBody is sent once.
type RetryPolicy struct {
	MaxRetries int           // retries after the first attempt; 0 disables retries
	BaseDelay  time.Duration // ceiling of the first backoff; 0 means 500ms
	MaxDelay   time.Duration // cap of one wait; 0 means 10s
}

// DefaultRetryPolicy is 3 retries, 500ms base delay, 10s cap.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: 3, BaseDelay: 500 * time.Millisecond, MaxDelay: 10 * time.Second}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxRetries < 0 {
		p.MaxRetries = 0
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 10 * time.Second
	}
	return p
}

// retryTransport retries requests by the rules of RetryPolicy. Each attempt
// runs under its own timeout (attemptTimeout), which keeps applying while the
// caller reads the response body.
type retryTransport struct {
	next           http.RoundTripper
	policy         RetryPolicy
	attemptTimeout time.Duration
	now            func() time.Time
	sleep          func(ctx context.Context, d time.Duration) error
	jitter         func() float64 // uniform in [0, 1)
	log            *slog.Logger
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	idempotent := isIdempotent(req)
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 {
			var err error
			if r, err = replay(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.attempt(r)
		if attempt >= t.policy.MaxRetries || ctx.Err() != nil || !canReplay(req) {
			return resp, err
		}
		delay, retry := t.decide(idempotent, resp, err, attempt)
		if !retry {
			return resp, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return resp, err
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
			drainClose(resp)
		}
		t.log.DebugContext(ctx, "retrying request", "method", req.Method, "path", req.URL.Path,
			"status", status, "error", errString(err), "attempt", attempt+1, "delay", delay)
		if err := t.sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("wait before retry: %w", err)
		}
	}
}

func (t *retryTransport) attempt(req *http.Request) (*http.Response, error) {
	if t.attemptTimeout <= 0 {
		return t.next.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.attemptTimeout)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// decide tells whether to retry and how long to wait first.
func (t *retryTransport) decide(idempotent bool, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if err != nil {
		if isDialError(err) || (idempotent && IsTransient(err)) {
			return t.backoff(attempt), true
		}
		return 0, false
	}
	ra, hasRA := retryAfter(resp.Header, t.now())
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests, code == http.StatusServiceUnavailable && hasRA:
	case idempotent && (code == http.StatusInternalServerError || code == http.StatusBadGateway ||
		code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout):
	default:
		return 0, false
	}
	if hasRA {
		return ra, ra <= t.policy.MaxDelay
	}
	return t.backoff(attempt), true
}

func (t *retryTransport) backoff(attempt int) time.Duration {
	ceiling := t.policy.MaxDelay
	if attempt < 30 {
		if d := t.policy.BaseDelay << attempt; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(t.jitter() * float64(ceiling))
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > 1<<20 {
			secs = 1 << 20
		}
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

type ctxKey int

const (
	keyIdempotent ctxKey = iota
	keyNoToken
)

// withIdempotent marks a request as safe to repeat whatever its method.
func withIdempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, keyIdempotent, true)
}

func isIdempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != "" {
		return true
	}
	v, _ := req.Context().Value(keyIdempotent).(bool)
	return v
}

// NotSent tells whether err surely happened before the request reached the
// API: a failure to connect, or no token to send it with. Repeating such a
// request cannot apply a write twice.
func NotSent(err error) bool {
	var ns *notSentError
	return isDialError(err) || errors.As(err, &ns)
}

// notSentError wraps a failure that stopped a request before it was sent.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// isDialError tells whether err is a failure to connect: the request did not
// reach the server.
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func canReplay(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// replay clones req with a fresh body for another attempt.
func replay(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("replay request body: %w", err)
		}
		r.Body = body
	}
	return r, nil
}

// drainClose reads a little of the body, so the connection can be reused,
// and closes it.
func drainClose(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// sleepContext waits d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
