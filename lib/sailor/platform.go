package sailor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// platform is the client of the platform REST API: Basic auth with
// API_USERNAME:API_KEY, retries on 5xx and network errors.
type platform struct {
	base, user, key string
	hc              *http.Client
	attempts        int
	delay           time.Duration
}

// stepData is the step as GET /v1/tasks/{flow}/steps/{step} returns it.
type stepData struct {
	Config        map[string]any  `json:"config"`
	Snapshot      json.RawMessage `json:"snapshot"`
	IsPassthrough bool            `json:"is_passthrough"`
	Variables     json.RawMessage `json:"variables"`
}

// statusError is a platform answer with a 4xx or 5xx status. Its message
// holds the status and the platform's "error" text, never the request.
type statusError struct {
	method, path string
	status       int
	detail       string
}

func (e *statusError) Error() string {
	if e.detail != "" {
		return fmt.Sprintf("%s %s: status %d: %s", e.method, e.path, e.status, e.detail)
	}
	return fmt.Sprintf("%s %s: status %d", e.method, e.path, e.status)
}

const platformTimeout = 15 * time.Second

// do sends one request (retrying on 5xx and network errors) and decodes a
// JSON answer into out when out is not nil. Statuses ≥ 400 are errors.
func (p *platform) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
	}
	attempts := max(p.attempts, 1)
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if err := sleepCtx(ctx, p.delay); err != nil {
				return 0, fmt.Errorf("%s %s: %w", method, path, err)
			}
		}
		status, retry, err := p.once(ctx, method, path, payload, out)
		if err == nil || !retry || ctx.Err() != nil {
			return status, err
		}
		lastErr = err
	}
	return 0, lastErr
}

func (p *platform) once(ctx context.Context, method, path string, payload []byte, out any) (status int, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, platformTimeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		return 0, false, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.SetBasicAuth(p.user, p.key)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is known; keep the message short
		}
		return 0, true, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 10<<20))
	if err != nil {
		return resp.StatusCode, true, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return resp.StatusCode, resp.StatusCode >= 500, &statusError{method: method, path: path, status: resp.StatusCode, detail: truncate(e.Error, 200)}
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, false, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, false, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (p *platform) getStep(ctx context.Context, flowID, stepID string) (stepData, error) {
	var st stepData
	path := "/v1/tasks/" + url.PathEscape(flowID) + "/steps/" + url.PathEscape(stepID)
	if _, err := p.do(ctx, http.MethodGet, path, nil, &st); err != nil {
		return st, fmt.Errorf("get step: %w", err)
	}
	return st, nil
}

func (p *platform) putAccountKeys(ctx context.Context, accountID string, keys json.RawMessage) error {
	if !json.Valid(keys) {
		return errors.New("keys are not valid JSON")
	}
	body := map[string]json.RawMessage{"keys": keys}
	_, err := p.do(ctx, http.MethodPut, "/v1/accounts/"+url.PathEscape(accountID), body, nil)
	return err
}

func hooksPath(flowID string) string {
	return "/sailor-support/hooks/task/" + url.PathEscape(flowID) + "/startup/data"
}

// saveHooksData POSTs the startup state; on 409 it DELETEs the old state and
// POSTs again.
func (p *platform) saveHooksData(ctx context.Context, flowID string, state json.RawMessage) error {
	path := hooksPath(flowID)
	_, err := p.do(ctx, http.MethodPost, path, state, nil)
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusConflict {
		if _, err := p.do(ctx, http.MethodDelete, path, nil, nil); err != nil {
			return fmt.Errorf("delete hooks data: %w", err)
		}
		_, err = p.do(ctx, http.MethodPost, path, state, nil)
	}
	if err != nil {
		return fmt.Errorf("save hooks data: %w", err)
	}
	return nil
}

func (p *platform) getHooksData(ctx context.Context, flowID string) (json.RawMessage, error) {
	var state json.RawMessage
	if _, err := p.do(ctx, http.MethodGet, hooksPath(flowID), nil, &state); err != nil {
		return nil, fmt.Errorf("get hooks data: %w", err)
	}
	return state, nil
}

func (p *platform) deleteHooksData(ctx context.Context, flowID string) error {
	if _, err := p.do(ctx, http.MethodDelete, hooksPath(flowID), nil, nil); err != nil {
		return fmt.Errorf("delete hooks data: %w", err)
	}
	return nil
}
