//go:build integration

package loadtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/loadtest"
	"github.com/fitbitplus/connector/lib/sandbox"
)

// tokenSpy records the bearer tokens the worker sends, so that the checks
// can look for them.
type tokenSpy struct {
	mu     sync.Mutex
	tokens map[string]bool
}

func (s *tokenSpy) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok != "" {
			s.mu.Lock()
			s.tokens[tok] = true
			s.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (s *tokenSpy) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.tokens {
		out = append(out, t)
	}
	return out
}

// credentialKeys must never appear as keys of an emitted message.
var credentialKeys = []string{"clientSecret", "client_secret", "access_token", "refresh_token", "accessToken",
	"refreshToken", "password", "apiKey", "api_key", "authorization", "Authorization"}

// TestSecurityNoSecretsInOutput runs the worker with debug and trace logging
// on valid, invalid and undecodable inputs, and checks that neither its output
// nor its emitted messages hold a secret, a token or a patient attribute
// value, and that no emitted message has a credential field.
func TestSecurityNoSecretsInOutput(t *testing.T) {
	for _, level := range []string{"debug", "trace"} {
		t.Run(level, func(t *testing.T) {
			spy := &tokenSpy{tokens: map[string]bool{}}
			r := newRig(t, rigOptions{wrap: spy.wrap})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var ids []string
			for i := 0; i < 24; i++ {
				id := fmt.Sprintf("sec-%02d", i)
				ids = append(ids, id)
				var err error
				switch {
				case i%8 == 3:
					err = r.pub.Publish(ctx, id, map[string]any{"id": "no-such-patient"}, 1)
				case i%8 == 5:
					err = r.pub.PublishRaw(ctx, id, []byte("garbage "+loadtest.CryptoIV), loadtest.InputHeaders(id))
				default:
					err = r.pub.Publish(ctx, id, r.input(i), 1)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := r.pub.Confirm(ctx); err != nil {
				t.Fatal(err)
			}
			w := r.start(r.env(4, map[string]string{"LOG_LEVEL": level, "OAUTH_CLIENT_SECRET": loadtest.ClientSecret}))
			r.waitSettled(ids, 30*time.Second)
			if code, err := w.Stop(15 * time.Second); err != nil || code != 0 {
				t.Fatalf("stop: exit %d, %v", code, err)
			}
			logs := w.Output()
			if !strings.Contains(logs, `"level":20`) {
				t.Fatalf("LOG_LEVEL=%s produced no debug lines; the check proves nothing", level)
			}
			data, errs := r.col.Outputs()
			if len(data) == 0 || len(errs) == 0 {
				t.Fatalf("%d data and %d error outputs; want both", len(data), len(errs))
			}

			secrets := map[string]string{"client secret": loadtest.ClientSecret, "crypto password": loadtest.CryptoPassword,
				"platform API key": loadtest.APIKey}
			tokens := spy.list()
			if len(tokens) == 0 {
				t.Fatal("the worker sent no bearer token")
			}
			for i, tok := range tokens {
				secrets[fmt.Sprintf("access token %d", i)] = tok
			}
			patient := patientValues(t, data)
			if len(patient) < 10 {
				t.Fatalf("only %d patient attribute values found in the outputs", len(patient))
			}
			for what, v := range secrets {
				if strings.Contains(logs, v) {
					t.Errorf("the worker's output holds the %s", what)
				}
			}
			for _, v := range patient {
				if holds(logs, v) {
					t.Errorf("the worker's output holds the patient attribute value %q", v)
				}
			}
			for _, out := range append(data, errs...) {
				for what, v := range secrets {
					if strings.Contains(string(out), v) {
						t.Errorf("an emitted message holds the %s", what)
					}
				}
				for _, k := range credentialKeys {
					if strings.Contains(string(out), `"`+k+`"`) {
						t.Errorf("an emitted message has the credential field %q", k)
					}
				}
			}
			// The error events' decrypted contents too.
			for _, id := range ids {
				for _, m := range r.col.Record(id).ErrorMessages {
					for what, v := range secrets {
						if strings.Contains(m, v) {
							t.Errorf("error event of %s holds the %s", id, what)
						}
					}
				}
			}
		})
	}
}

// holds tells whether text holds v: as a whole word when v is one word (a
// first name such as "Kim" is not in "KimMachineGun", a module path the
// log names), anywhere otherwise.
func holds(text, v string) bool {
	if regexp.MustCompile(`^\w+$`).MatchString(v) {
		return regexp.MustCompile(`\b` + regexp.QuoteMeta(v) + `\b`).MatchString(text)
	}
	return strings.Contains(text, v)
}

// patientValues collects the identifying attribute values of the patients
// in data outputs (names, email, birth date, phone numbers, identifiers).
func patientValues(t *testing.T, data [][]byte) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, b := range data {
		var env struct {
			Body struct {
				Data struct {
					Attributes map[string]any `json:"attributes"`
				} `json:"data"`
			} `json:"body"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatal(err)
		}
		a := env.Body.Data.Attributes
		for _, k := range []string{"first_name", "last_name", "email_address", "birth_date"} {
			if s, ok := a[k].(string); ok && len(s) >= 3 {
				seen[s] = true
			}
		}
		if f, l := a["first_name"], a["last_name"]; f != nil && l != nil {
			seen[fmt.Sprint(f, " ", l)] = true
		}
		for _, list := range []string{"phone_numbers", "identifiers"} {
			items, _ := a[list].([]any)
			for _, it := range items {
				m, _ := it.(map[string]any)
				for _, k := range []string{"number", "value"} {
					if s, ok := m[k].(string); ok && s != "" {
						seen[s] = true
					}
				}
			}
		}
	}
	var out []string
	for v := range seen {
		out = append(out, v)
	}
	return out
}

// TestSecurityNoInputPatientDataInDebugLogs sends patient attributes in the
// input (createPatient) with debug logging on: they must not reach the log.
func TestSecurityNoInputPatientDataInDebugLogs(t *testing.T) {
	r := newRig(t, rigOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	phi := []string{"Zephyrine", "Quillsworth", "zephyrine.q@example.org", "1961-07-14", "+1-555-0199"}
	body := map[string]any{"requestBody": map[string]any{"data": map[string]any{"type": "patient",
		"attributes": map[string]any{"first_name": phi[0], "last_name": phi[1], "email_address": phi[2], "birth_date": phi[3],
			"phone_numbers": []any{map[string]any{"type": "mobile", "number": phi[4]}}},
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]any{"type": "organization", "id": r.sb.Seeded().OrganizationID}}}}}}
	if err := r.pub.Publish(ctx, "phi-0", body, 1); err != nil {
		t.Fatal(err)
	}
	if err := r.pub.Confirm(ctx); err != nil {
		t.Fatal(err)
	}
	env := loadtest.WorkerEnv(r.top, r.platform.URL(), "createPatient", 1, map[string]string{"LOG_LEVEL": "debug"})
	w := r.start(env)
	r.waitSettled([]string{"phi-0"}, 30*time.Second)
	if _, err := w.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("outcome: %+v", r.col.Record("phi-0"))
	for _, v := range phi {
		if strings.Contains(w.Output(), v) {
			t.Errorf("the worker's debug output holds the patient attribute value %q from its input", v)
		}
	}
}

// echoAPI is a hostile API: it records every secret a request carries (the
// bearer token, and the client secret and refresh token of a token
// exchange) and echoes all it has seen in every field of its answers, at
// every status in turn: the token endpoint's first answer is a 401 whose
// error detail holds the client secret; API answers cycle through 200 (the
// secrets in a patient's attributes and meta), 404 and 422 (in every error
// field and meta.req_id) and 503 (rebounded, so in its reason).
type echoAPI struct {
	mu      sync.Mutex
	seen    map[string]bool
	tokens  int
	answers int
}

func (e *echoAPI) remember(vals ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range vals {
		if len(v) >= 6 {
			e.seen[v] = true
		}
	}
}

func (e *echoAPI) secrets() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for v := range e.seen {
		out = append(out, v)
	}
	return out
}

func (e *echoAPI) echo() string { return strings.Join(e.secrets(), " ") }

func (e *echoAPI) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			e.remember(tok)
		}
		if strings.HasSuffix(r.URL.Path, "/oauth/token") {
			body, _ := io.ReadAll(r.Body)
			var doc struct {
				Data struct{ Attributes map[string]string } `json:"data"`
			}
			_ = json.Unmarshal(body, &doc)
			e.remember(doc.Data.Attributes["client_secret"], doc.Data.Attributes["refresh_token"])
			e.mu.Lock()
			e.tokens++
			first := e.tokens == 1
			e.mu.Unlock()
			if first {
				e.answerError(w, http.StatusUnauthorized)
				return
			}
			rec := httptest.NewRecorder()
			r.Body = io.NopCloser(bytes.NewReader(body))
			h.ServeHTTP(rec, r)
			var tok struct {
				Data struct{ Attributes map[string]any } `json:"data"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &tok)
			for _, k := range []string{"access_token", "refresh_token"} {
				if s, ok := tok.Data.Attributes[k].(string); ok {
					e.remember(s)
				}
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		e.mu.Lock()
		e.answers++
		n := e.answers
		e.mu.Unlock()
		switch n % 4 {
		case 1:
			e.answerError(w, http.StatusNotFound)
		case 2:
			e.answerError(w, http.StatusUnprocessableEntity)
		case 3:
			e.answerError(w, http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Type", sandbox.MediaType)
			s := e.echo()
			_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"type": "patient", "id": "p-" + s,
				"attributes": map[string]any{"first_name": s, "last_name": s, "email_address": s}}, "meta": map[string]any{"echo": s}})
		}
	})
}

func (e *echoAPI) answerError(w http.ResponseWriter, status int) {
	s := e.echo()
	w.Header().Set("Content-Type", sandbox.MediaType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"status": fmt.Sprint(status), "code": "Echo " + s,
		"title": s, "detail": "you sent " + s, "source": map[string]any{"pointer": "/data/" + s, "parameter": s}}},
		"meta": map[string]any{"req_id": s}})
}

// TestSecurityEchoedSecrets runs the worker at trace level against echoAPI:
// no secret it received, nor the environment's, may appear in a log line, on
// stdout or stderr, in any event on any routing key (bodies, error fields,
// headers), or in a dead-lettered input's headers.
func TestSecurityEchoedSecrets(t *testing.T) {
	api := &echoAPI{seen: map[string]bool{}}
	r := newRig(t, rigOptions{wrap: api.wrap})
	ids := r.publish("echo", 24)
	w := r.start(r.env(2, map[string]string{"LOG_LEVEL": "trace", "OAUTH_CLIENT_SECRET": loadtest.ClientSecret,
		"ELASTICIO_REBOUND_LIMIT": "1"}))
	r.waitSettled(ids, 60*time.Second)
	// Rebounded inputs come back once and then end as errors; wait for them.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	_ = r.col.WaitSettled(ctx, ids, func(_ string, rec loadtest.Record) bool { return rec.Data > 0 || rec.Dead > 0 })
	cancel()
	if _, err := w.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	known := append(api.secrets(), loadtest.APIKey, loadtest.CryptoPassword, loadtest.ClientSecret)
	if len(known) < 5 {
		t.Fatalf("the API saw only %d secrets; the case proves nothing", len(known))
	}
	data, errs := r.col.Outputs()
	if len(data) == 0 || len(errs) == 0 {
		t.Fatalf("%d data and %d error outputs; want both", len(data), len(errs))
	}
	places := map[string][]string{"worker output": {w.Output()}}
	for _, b := range append(data, errs...) {
		places["an event"] = append(places["an event"], string(b))
	}
	for _, b := range r.col.Headers() {
		places["headers"] = append(places["headers"], string(b))
	}
	for _, id := range ids {
		places["a decrypted error"] = append(places["a decrypted error"], r.col.Record(id).ErrorMessages...)
	}
	for where, texts := range places {
		for _, text := range texts {
			for _, s := range known {
				if strings.Contains(text, s) {
					t.Errorf("%s holds a secret %.8q…", where, s)
				}
			}
		}
	}
	if !strings.Contains(w.Output(), `"level":20`) {
		t.Error("no debug lines; the check proves less than it says")
	}
}

// TestSecurityFatalStartupLineRedacted: a platform API that echoes the
// worker's API key in its refusal ends the worker at start-up; neither its
// log nor its last line on stderr holds the key.
func TestSecurityFatalStartupLineRedacted(t *testing.T) {
	r := newRig(t, rigOptions{})
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, key, _ := req.BasicAuth()
		w.WriteHeader(http.StatusForbidden)
		_, _ = fmt.Fprintf(w, `{"error":"the key %s is not allowed"}`, key)
	}))
	defer echo.Close()
	env := loadtest.WorkerEnv(r.top, echo.URL, loadtest.ActionFetchPatient, 1, nil)
	w, err := loadtest.StartWorker(r.bin, env)
	if err != nil {
		t.Fatal(err)
	}
	if code, err := w.Wait(30 * time.Second); err != nil || code != 1 {
		t.Fatalf("exit %d, %v; want 1", code, err)
	}
	out := w.Output()
	if !strings.Contains(out, "connector run: get step") || !strings.Contains(out, "is not allowed") {
		t.Fatalf("the refusal is not reported:\n%s", out)
	}
	if strings.Contains(out, loadtest.APIKey) {
		t.Errorf("the API key reached the worker's output:\n%s", out)
	}
}
