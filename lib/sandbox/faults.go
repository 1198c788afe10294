package sandbox

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// injectFault delays the request and may fail it, as Options.Faults says.
func (s *Sandbox) injectFault(w http.ResponseWriter, c *call) error {
	f := &s.opts.Faults
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-c.r.Context().Done():
			t.Stop()
		}
	}
	n := s.faultN.Add(1)
	limited := f.RateLimitEvery > 0 && n%int64(f.RateLimitEvery) == 0
	failed := false
	if f.RateLimitRate > 0 || f.FailRate > 0 {
		s.faultMu.Lock()
		if f.RateLimitRate > 0 && s.faultRNG.Float64() < f.RateLimitRate {
			limited = true
		}
		if f.FailRate > 0 && s.faultRNG.Float64() < f.FailRate {
			failed = true
		}
		s.faultMu.Unlock()
	}
	if limited {
		s.counters.injected429.Add(1)
		secs := int(math.Ceil(f.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return &apiError{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests, Title: "Too many requests",
			Detail: "rate limit exceeded (injected); retry after " + strconv.Itoa(secs) + "s"}
	}
	if failed {
		s.counters.injected5xx.Add(1)
		return &apiError{Status: f.FailStatus, Code: CodeServiceUnavailable, Title: http.StatusText(f.FailStatus),
			Detail: "injected failure"}
	}
	if c.op != nil && c.op.ID == "createToken" {
		return s.tokenFault()
	}
	return nil
}

// tokenFault fails token exchanges while the token endpoint is "down".
func (s *Sandbox) tokenFault() error {
	f := &s.opts.Faults
	n := s.tokenN.Add(1)
	down := f.TokenFailures > 0 && n <= int64(f.TokenFailures)
	if f.TokenDownFor > 0 && s.now().Before(s.started.Add(f.TokenDownFor)) {
		down = true
	}
	if !down {
		return nil
	}
	s.counters.tokenFaults.Add(1)
	return &apiError{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable,
		Title: "Service unavailable", Detail: "token endpoint unavailable (injected)"}
}
