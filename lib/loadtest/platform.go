package loadtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fitbitplus/connector/lib/fitbitplus"
)

// The fixed identity and secrets of the harness's steps. The secrets are
// what the security checks look for in the worker's output.
const (
	APIUsername    = "loadtest@example.org"
	APIKey         = "loadtest-platform-api-key-7f3a9c"
	CryptoPassword = "loadtest-crypto-password-5be21d"
	CryptoIV       = "iv=any16_symbols"
	ClientID       = "loadtest-client"
	ClientSecret   = "loadtest-client-secret-c0ffee42"
	ObjectToken    = "loadtest-object-storage-token-9d41"
	FlowID         = "5559edd38968ec0736000003"
	StepID         = "step_1"
)

// Platform is a fake of the platform REST API (Basic auth with APIUsername
// and APIKey): the step's GET, the hooks data (POST, GET, DELETE) and the
// accounts' PUT; 404 to everything else. It logs every request.
type Platform struct {
	srv   *httptest.Server
	calls atomic.Int64

	mu        sync.Mutex
	step      map[string]any
	log       []string
	postCodes []int  // answers to successive hooks-data POSTs (default 201)
	hooksData string // the GET answer
}

// StepConfig is the config of a step whose credential is the sandbox at
// baseURL ("--- Custom URL" with otherServer).
func StepConfig(baseURL string) map[string]any {
	return map[string]any{
		fitbitplus.FieldServer: fitbitplus.CustomServer, fitbitplus.FieldOtherServer: baseURL,
		fitbitplus.FieldClientID: ClientID, fitbitplus.FieldClientSecret: ClientSecret,
	}
}

// NewPlatform serves a step with config cfg (and an empty snapshot) on
// 127.0.0.1.
func NewPlatform(cfg map[string]any) *Platform {
	p := &Platform{step: map[string]any{"config": cfg, "snapshot": map[string]any{}}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

// SetStep sets a field of the step's answer (config, snapshot,
// is_passthrough, variables).
func (p *Platform) SetStep(field string, v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.step[field] = v
}

// SetHooks sets the answers to the hooks-data POSTs, in turn, and the hooks
// data GET returns.
func (p *Platform) SetHooks(postCodes []int, data string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.postCodes, p.hooksData = postCodes, data
}

// Log is every request received, as "METHOD path body".
func (p *Platform) Log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

func (p *Platform) serve(w http.ResponseWriter, r *http.Request) {
	p.calls.Add(1)
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+string(body)))
	if u, k, ok := r.BasicAuth(); !ok || u != APIUsername || k != APIKey {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/tasks/"+FlowID+"/steps/"):
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p.step)
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/accounts/"):
		w.WriteHeader(http.StatusOK)
	case strings.HasPrefix(r.URL.Path, "/sailor-support/hooks/task/"+FlowID+"/startup/data"):
		switch r.Method {
		case http.MethodPost:
			code := http.StatusCreated
			if len(p.postCodes) > 0 {
				code, p.postCodes = p.postCodes[0], p.postCodes[1:]
			}
			w.WriteHeader(code)
			if code == http.StatusConflict {
				_, _ = w.Write([]byte(`{"error":"Hooks data for the task already exist. Delete previous data first.","status":409}`))
			}
		case http.MethodGet:
			_, _ = w.Write([]byte(p.hooksData))
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// URL is the API base URL (ELASTICIO_API_URI).
func (p *Platform) URL() string { return p.srv.URL }

// Calls is the number of requests received.
func (p *Platform) Calls() int64 { return p.calls.Load() }

// Close stops the server.
func (p *Platform) Close() { p.srv.Close() }

// WorkerEnv is the protocol's environment for a worker of function on t,
// with the platform API at apiURL. The emission throttles are raised: the
// defaults (10 data / 2 errors per 100 ms) are platform policy, not the
// worker's capacity. extra overrides or adds variables.
func WorkerEnv(t *Topology, apiURL, function string, prefetch int, extra map[string]string) map[string]string {
	env := map[string]string{
		"ELASTICIO_FLOW_ID": FlowID, "ELASTICIO_STEP_ID": StepID, "ELASTICIO_EXEC_ID": "loadtest-exec",
		"ELASTICIO_WORKSPACE_ID": "loadtest-ws", "ELASTICIO_CONTAINER_ID": "loadtest-container",
		"ELASTICIO_USER_ID": "loadtest-user", "ELASTICIO_COMP_ID": "loadtest-comp", "ELASTICIO_FUNCTION": function,
		"ELASTICIO_API_URI": apiURL, "ELASTICIO_API_USERNAME": APIUsername, "ELASTICIO_API_KEY": APIKey,
		"ELASTICIO_AMQP_URI": t.URL, "ELASTICIO_LISTEN_MESSAGES_ON": t.Input,
		"ELASTICIO_PUBLISH_MESSAGES_TO": t.Exchange,
		"ELASTICIO_DATA_ROUTING_KEY":    t.DataKey, "ELASTICIO_ERROR_ROUTING_KEY": t.ErrorKey,
		"ELASTICIO_REBOUND_ROUTING_KEY": t.ReboundKey, "ELASTICIO_SNAPSHOT_ROUTING_KEY": t.SnapshotKey,
		"ELASTICIO_MESSAGE_CRYPTO_IV": CryptoIV, "ELASTICIO_MESSAGE_CRYPTO_PASSWORD": CryptoPassword,
		"ELASTICIO_RABBITMQ_PREFETCH_SAILOR": itoa(prefetch),
		"ELASTICIO_DATA_RATE_LIMIT":          "1000000", "ELASTICIO_ERROR_RATE_LIMIT": "1000000",
		"ELASTICIO_SNAPSHOT_RATE_LIMIT": "1000000",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}
