package sailor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/secrets"
)

// Service methods the platform calls (`runService.js <method>` in the official sailor).
const (
	MethodVerifyCredentials = "verifyCredentials"
	MethodGetMetaModel      = "getMetaModel"
	MethodSelectModel       = "selectModel"
)

// ServiceSettings is the environment of service mode (docs/protocol.md).
type ServiceSettings struct {
	PostResultURL   string
	Cfg             component.Config
	CfgErr          error // ELASTICIO_CFG missing or not a JSON object
	APIURI          string
	APIUsername     string
	APIKey          string
	ActionOrTrigger string
	GetModelMethod  string
	RetryAttempts   int
	RetryDelay      time.Duration
	LogLevel        string
	LogContext      map[string]string
}

// LoadServiceSettings reads the service-mode environment. Problems other
// than a missing POST_RESULT_URL are reported to the platform by RunService,
// so they are kept in the settings rather than returned.
func LoadServiceSettings(getenv func(string) string) ServiceSettings {
	e := envReader{getenv: getenv}
	s := ServiceSettings{
		PostResultURL:   getenv("ELASTICIO_POST_RESULT_URL"),
		APIURI:          strings.TrimRight(getenv("ELASTICIO_API_URI"), "/"),
		APIUsername:     getenv("ELASTICIO_API_USERNAME"),
		APIKey:          getenv("ELASTICIO_API_KEY"),
		ActionOrTrigger: getenv("ELASTICIO_ACTION_OR_TRIGGER"),
		GetModelMethod:  getenv("ELASTICIO_GET_MODEL_METHOD"),
		RetryAttempts:   e.number("ELASTICIO_API_REQUEST_RETRY_ATTEMPTS", 1),
		RetryDelay:      e.millis("ELASTICIO_API_REQUEST_RETRY_DELAY", 100),
		LogLevel:        e.str("LOG_LEVEL", "info"),
		LogContext:      map[string]string{},
	}
	for _, name := range logContextVars {
		if v := getenv(name); v != "" {
			s.LogContext[name] = v
		}
	}
	raw := getenv("ELASTICIO_CFG")
	var cfg map[string]any
	if raw == "" {
		s.CfgErr = errors.New("ELASTICIO_CFG is missing")
	} else if err := json.Unmarshal([]byte(raw), &cfg); err != nil || cfg == nil {
		s.CfgErr = errors.New("Unable to parse CFG") //nolint:staticcheck // the official wording
	}
	s.Cfg = cfg
	return s
}

// LogOptions are the logger options of service mode.
func (s ServiceSettings) LogOptions(hostname string) LogOptions {
	lvl, _ := parseLogLevel(s.LogLevel)
	return LogOptions{Name: "sailor", Level: lvl, Hostname: hostname, Context: s.LogContext}
}

// ServiceDeps are what RunService needs.
type ServiceDeps struct {
	// VerifyCredentials checks cfg's credential and returns the organisation it reaches.
	VerifyCredentials func(ctx context.Context, cfg component.Config) (organization string, err error)
	ComponentJSON     []byte            // component.json, for getMetaModel
	Logger            *slog.Logger      // default: NewLogger(os.Stdout, …) through Secrets
	Secrets           *secrets.Redactor // every secret the process knows; default: the settings'
	HTTPClient        *http.Client      // posts the result; default: 15 s timeout
}

// serviceResult is what is POSTed to ELASTICIO_POST_RESULT_URL.
type serviceResult struct {
	Status string `json:"status"`
	Data   any    `json:"data"`
}

// RunService runs one service call and posts {status, data} to
// ELASTICIO_POST_RESULT_URL. It returns nil only when the platform answered
// the post with HTTP 200.
func RunService(ctx context.Context, method string, getenv func(string) string, d ServiceDeps) error {
	s := LoadServiceSettings(getenv)
	r := d.Secrets
	if r == nil {
		r = secrets.New()
	}
	r.Add(s.APIKey)
	r.AddConfig(map[string]any(s.Cfg))
	log := d.Logger
	if log == nil {
		host, _ := os.Hostname()
		o := s.LogOptions(host)
		o.Secrets = r
		log = NewLogger(os.Stdout, o)
	}
	log = log.With("method", method)
	if s.PostResultURL == "" {
		err := errors.New("ELASTICIO_POST_RESULT_URL is missing")
		log.Log(ctx, LevelFatal, "cannot run service call", "err", err)
		return err
	}
	data, err := serviceCall(ctx, method, s, d, r)
	result := serviceResult{Status: "success", Data: data}
	if err != nil {
		log.Error("service call failed", "err", err)
		result = serviceResult{Status: "error", Data: map[string]string{"message": r.String(err.Error())}}
	}
	hc := d.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: platformTimeout}
	}
	if err := postResult(ctx, hc, s, result); err != nil {
		log.Log(ctx, LevelFatal, "post service result", "err", err)
		return err
	}
	log.Info("service call finished", "status", result.Status)
	return nil
}

func serviceCall(ctx context.Context, method string, s ServiceSettings, d ServiceDeps, r *secrets.Redactor) (any, error) {
	switch method {
	case MethodVerifyCredentials, MethodGetMetaModel, MethodSelectModel:
	default:
		return nil, fmt.Errorf("unknown service method %q: expected verifyCredentials, getMetaModel or selectModel", method)
	}
	if s.CfgErr != nil {
		return nil, s.CfgErr
	}
	var missing []string
	for name, v := range map[string]string{"ELASTICIO_API_URI": s.APIURI, "ELASTICIO_API_USERNAME": s.APIUsername, "ELASTICIO_API_KEY": s.APIKey} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if method != MethodVerifyCredentials && s.ActionOrTrigger == "" {
		missing = append(missing, "ELASTICIO_ACTION_OR_TRIGGER")
	}
	if method == MethodSelectModel && s.GetModelMethod == "" {
		missing = append(missing, "ELASTICIO_GET_MODEL_METHOD")
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("%s is missing", strings.Join(missing, ", "))
	}
	switch method {
	case MethodVerifyCredentials:
		if d.VerifyCredentials == nil {
			return nil, errors.New("verifyCredentials is not available")
		}
		org, err := d.VerifyCredentials(ctx, s.Cfg)
		if err != nil {
			return map[string]any{"verified": false, "reason": r.String(err.Error())}, nil
		}
		return map[string]any{"verified": true, "organization": org}, nil
	case MethodGetMetaModel:
		return functionMetadata(d.ComponentJSON, s.ActionOrTrigger)
	default:
		return nil, fmt.Errorf("selectModel %q of %q: this component has no dynamic select models", s.GetModelMethod, s.ActionOrTrigger)
	}
}

// functionMetadata returns the "metadata" of a trigger or action of
// component.json.
func functionMetadata(componentJSON []byte, name string) (any, error) {
	var comp struct {
		Triggers map[string]map[string]json.RawMessage `json:"triggers"`
		Actions  map[string]map[string]json.RawMessage `json:"actions"`
	}
	if err := json.Unmarshal(componentJSON, &comp); err != nil {
		return nil, fmt.Errorf("read component.json: %w", err)
	}
	fn, ok := comp.Triggers[name]
	if !ok {
		fn, ok = comp.Actions[name]
	}
	if !ok {
		return nil, fmt.Errorf("getMetaModel: %q is not a trigger or action of this component", name)
	}
	md, ok := fn["metadata"]
	if !ok || string(md) == "null" {
		return nil, fmt.Errorf("getMetaModel: %q has no metadata", name)
	}
	return md, nil
}

// postResult POSTs the result with Basic auth from the URL's userinfo (which
// is then stripped from the URL). Only HTTP 200 is success.
func postResult(ctx context.Context, hc *http.Client, s ServiceSettings, result serviceResult) error {
	u, err := url.Parse(s.PostResultURL)
	if err != nil {
		return errors.New("ELASTICIO_POST_RESULT_URL is not a URL")
	}
	user := u.User
	u.User = nil
	body, err := json.Marshal(result)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	attempts := max(s.RetryAttempts, 1)
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if err := sleepCtx(ctx, s.RetryDelay); err != nil {
				return err
			}
		}
		status, err := postOnce(ctx, hc, u.String(), user, body)
		if err == nil && status == http.StatusOK {
			return nil
		}
		if err == nil {
			lastErr = fmt.Errorf("post result: status %d", status)
			if status < 500 {
				return lastErr
			}
			continue
		}
		lastErr = err
	}
	return lastErr
}

func postOnce(ctx context.Context, hc *http.Client, target string, user *url.Userinfo, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("post result: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != nil {
		pw, _ := user.Password()
		req.SetBasicAuth(user.Username(), pw)
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("post result: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}
