package sailor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
)

type resultSink struct {
	srv    *httptest.Server
	bodies []string
	auth   []string
	status int
}

func newResultSink(t *testing.T) *resultSink {
	rs := &resultSink{status: http.StatusOK}
	rs.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u, p, _ := r.BasicAuth()
		rs.bodies = append(rs.bodies, string(b))
		rs.auth = append(rs.auth, u+":"+p)
		rw.WriteHeader(rs.status)
	}))
	t.Cleanup(rs.srv.Close)
	return rs
}

func serviceEnv(rs *resultSink) map[string]string {
	return map[string]string{
		"ELASTICIO_POST_RESULT_URL": strings.Replace(rs.srv.URL, "http://", "http://user:p%40ss@", 1) + "/result",
		"ELASTICIO_CFG":             `{"client_secret":"s3cr3t-value","_account":"a1"}`,
		"ELASTICIO_API_URI":         "http://127.0.0.1:1", "ELASTICIO_API_USERNAME": "u", "ELASTICIO_API_KEY": "k",
		"ELASTICIO_ACTION_OR_TRIGGER": "getPatient",
	}
}

func serviceDeps(verify func(context.Context, component.Config) (string, error)) ServiceDeps {
	return ServiceDeps{
		VerifyCredentials: verify,
		ComponentJSON:     []byte(`{"actions":{"getPatient":{"metadata":{"in":{"type":"object"}}},"plain":{}}}`),
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func TestRunServiceVerifyCredentials(t *testing.T) {
	rs := newResultSink(t)
	ok := func(_ context.Context, cfg component.Config) (string, error) {
		if cfg.String("client_secret") != "s3cr3t-value" {
			return "", errors.New("cfg not passed")
		}
		return "Acme Clinic", nil
	}
	if err := RunService(context.Background(), "verifyCredentials", getenvOf(serviceEnv(rs)), serviceDeps(ok)); err != nil {
		t.Fatal(err)
	}
	if rs.bodies[0] != `{"status":"success","data":{"organization":"Acme Clinic","verified":true}}` || rs.auth[0] != "user:p@ss" {
		t.Errorf("posted %q with %q", rs.bodies[0], rs.auth[0])
	}
	bad := func(context.Context, component.Config) (string, error) {
		return "", errors.New("token exchange refused for s3cr3t-value")
	}
	if err := RunService(context.Background(), "verifyCredentials", getenvOf(serviceEnv(rs)), serviceDeps(bad)); err != nil {
		t.Fatal(err)
	}
	if rs.bodies[1] != `{"status":"success","data":{"reason":"token exchange refused for [REDACTED]","verified":false}}` {
		t.Errorf("posted %q", rs.bodies[1])
	}
}

func TestRunServiceMetaModelAndErrors(t *testing.T) {
	rs := newResultSink(t)
	run := func(method string, env map[string]string) string {
		t.Helper()
		if err := RunService(context.Background(), method, getenvOf(env), serviceDeps(nil)); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		return rs.bodies[len(rs.bodies)-1]
	}
	env := serviceEnv(rs)
	if got := run("getMetaModel", env); got != `{"status":"success","data":{"in":{"type":"object"}}}` {
		t.Errorf("getMetaModel posted %s", got)
	}
	env["ELASTICIO_ACTION_OR_TRIGGER"] = "plain"
	if got := run("getMetaModel", env); !strings.Contains(got, `"status":"error"`) || !strings.Contains(got, "has no metadata") {
		t.Errorf("getMetaModel without metadata posted %s", got)
	}
	env["ELASTICIO_GET_MODEL_METHOD"] = "listThings"
	if got := run("selectModel", env); !strings.Contains(got, `"status":"error"`) || !strings.Contains(got, "no dynamic select models") {
		t.Errorf("selectModel posted %s", got)
	}
	if got := run("frobnicate", env); !strings.Contains(got, `unknown service method \"frobnicate\"`) {
		t.Errorf("unknown method posted %s", got)
	}
	env["ELASTICIO_CFG"] = "{not json"
	if got := run("verifyCredentials", env); got != `{"status":"error","data":{"message":"Unable to parse CFG"}}` {
		t.Errorf("bad cfg posted %s", got)
	}
}

func TestRunServiceExitStatus(t *testing.T) {
	rs := newResultSink(t)
	env := serviceEnv(rs)
	rs.status = http.StatusAccepted
	if err := RunService(context.Background(), "getMetaModel", getenvOf(env), serviceDeps(nil)); err == nil {
		t.Error("a 202 answer counted as success")
	}
	delete(env, "ELASTICIO_POST_RESULT_URL")
	n := len(rs.bodies)
	if err := RunService(context.Background(), "getMetaModel", getenvOf(env), serviceDeps(nil)); err == nil || len(rs.bodies) != n {
		t.Errorf("missing POST_RESULT_URL: err %v, posted %d", err, len(rs.bodies)-n)
	}
	var payload map[string]any
	_ = json.Unmarshal([]byte(rs.bodies[0]), &payload)
	if payload["status"] != "success" {
		t.Errorf("payload %v", payload)
	}
}
