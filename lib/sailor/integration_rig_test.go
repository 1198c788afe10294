//go:build integration

package sailor_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/sailor"
	"github.com/fitbitplus/connector/lib/sailor/internal/testfuncs"
	amqp "github.com/rabbitmq/amqp091-go"
)

func amqpURL() string {
	if u := os.Getenv("AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// fakeAPI is the platform REST API: the step, hooks data, accounts.
type fakeAPI struct {
	srv       *httptest.Server
	mu        sync.Mutex
	step      map[string]any
	calls     []string
	postCodes []int // answers to successive hooks-data POSTs (default 201)
	hooksData string
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{step: map[string]any{"config": map[string]any{"apiKey": "secret"}, "snapshot": map[string]any{"lastModifiedDate": 123456789}}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+string(body)))
	if u, p, _ := r.BasicAuth(); u != "test@test.com" || p != "5559edd" {
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/tasks/"):
		_ = json.NewEncoder(rw).Encode(f.step)
	case strings.HasPrefix(r.URL.Path, "/sailor-support/hooks/task/"):
		switch r.Method {
		case http.MethodPost:
			code := http.StatusCreated
			if len(f.postCodes) > 0 {
				code, f.postCodes = f.postCodes[0], f.postCodes[1:]
			}
			rw.WriteHeader(code)
			if code == http.StatusConflict {
				_, _ = rw.Write([]byte(`{"error":"Hooks data for the task already exist. Delete previous data first.","status":409}`))
			}
		case http.MethodGet:
			_, _ = rw.Write([]byte(f.hooksData))
		case http.MethodDelete:
			rw.WriteHeader(http.StatusNoContent)
		}
	default:
		rw.WriteHeader(http.StatusNotFound)
	}
}

func (f *fakeAPI) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// rig is one test's broker topology, platform API and environment.
type rig struct {
	t      *testing.T
	name   string // unique prefix; also the worker's hostname
	conn   *amqp.Connection
	ch     *amqp.Channel
	api    *fakeAPI
	env    map[string]string
	cipher *sailor.Cipher
}

const (
	qNext     = "next"
	qErrors   = "errors"
	qReply    = "reply"
	qRebound  = "rebound"
	qSnapshot = "snapshot"
	replyKey  = "request_reply_routing_key"
)

func newRig(t *testing.T) *rig {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "sailortest_" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "_" + hex.EncodeToString(b)
	conn, err := amqp.Dial(amqpURL())
	if err != nil {
		t.Fatalf("broker at %s: %v (start it with scripts/rabbitmq.sh start)", amqpURL(), err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	must(t, ch.Confirm(false)) // publish waits for each input's confirm
	r := &rig{t: t, name: name, conn: conn, ch: ch, api: newFakeAPI(t)}
	r.env = map[string]string{
		"ELASTICIO_FLOW_ID": "5559edd38968ec0736000003", "ELASTICIO_STEP_ID": "step_1",
		"ELASTICIO_EXEC_ID": "some-exec-id", "ELASTICIO_WORKSPACE_ID": "5559edd38968ec073600683",
		"ELASTICIO_CONTAINER_ID": "dc1c8c3f-f9cb-49e1-a6b8-716af9e15948", "ELASTICIO_USER_ID": "5559edd38968ec0736000002",
		"ELASTICIO_COMP_ID": "5559edd38968ec0736000456", "ELASTICIO_FUNCTION": "echo",
		"ELASTICIO_API_URI": r.api.srv.URL, "ELASTICIO_API_USERNAME": "test@test.com", "ELASTICIO_API_KEY": "5559edd",
		"ELASTICIO_AMQP_URI": amqpURL(), "ELASTICIO_LISTEN_MESSAGES_ON": name + ":messages",
		"ELASTICIO_PUBLISH_MESSAGES_TO": name + ":exchange",
		"ELASTICIO_DATA_ROUTING_KEY":    name + ":routing_key:message", "ELASTICIO_ERROR_ROUTING_KEY": name + ":routing_key:error",
		"ELASTICIO_REBOUND_ROUTING_KEY": name + ":routing_key:rebound", "ELASTICIO_SNAPSHOT_ROUTING_KEY": name + ":routing_key:snapshot",
		"ELASTICIO_MESSAGE_CRYPTO_IV": "iv=any16_symbols", "ELASTICIO_MESSAGE_CRYPTO_PASSWORD": "testCryptoPassword",
		"ELASTICIO_RABBITMQ_PREFETCH_SAILOR": "1", "ELASTICIO_AMQP_PUBLISH_RETRY_ATTEMPTS": "3",
		"ELASTICIO_AMQP_PUBLISH_MAX_RETRY_DELAY": "60000", "ELASTICIO_API_REQUEST_RETRY_DELAY": "10",
	}
	r.cipher, _ = sailor.NewCipher("testCryptoPassword", "iv=any16_symbols")
	exchange := name + ":exchange"
	must(t, ch.ExchangeDeclare(exchange, "direct", false, false, false, false, nil))
	declareQueue(t, ch, name+":messages")
	for q, key := range map[string]string{qNext: ":routing_key:message", qErrors: ":routing_key:error", qRebound: ":routing_key:rebound", qSnapshot: ":routing_key:snapshot", qReply: replyKey} {
		qn := name + "_" + q
		declareQueue(t, ch, qn)
		rk := key
		if strings.HasPrefix(key, ":") {
			rk = name + key
		}
		must(t, ch.QueueBind(qn, rk, exchange, false, nil))
	}
	t.Cleanup(func() {
		c, err := conn.Channel() // ch may have been closed by a failed operation
		if err == nil {
			for _, q := range []string{":messages", "_" + qNext, "_" + qErrors, "_" + qRebound, "_" + qSnapshot, "_" + qReply} {
				_, _ = c.QueueDelete(name+q, false, false, false)
			}
			_ = c.ExchangeDelete(exchange, false, false)
		}
		_ = conn.Close()
	})
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func declareQueue(t *testing.T, ch *amqp.Channel, name string) {
	t.Helper()
	_, err := ch.QueueDeclare(name, false, false, false, false, nil)
	must(t, err)
}

func defaultInput() map[string]any {
	return map[string]any{"headers": map[string]any{"stepId": "step_1"}, "body": map[string]any{"message": "Just do it!"}}
}

// publishInput publishes an encrypted input on the listen queue and returns its messageId.
func (r *rig) publishInput(envelope any, extra amqp.Table, version int) string {
	r.t.Helper()
	plain, _ := json.Marshal(envelope)
	id := fmt.Sprintf("in-%d", time.Now().UnixNano())
	h := amqp.Table{"execId": "exec1", "taskId": "task1", "workspaceId": "ws1", "userId": "user1",
		"threadId": "thread-" + id, "stepId": "step_1", "messageId": id, "parentMessageId": "parent-1"}
	for k, v := range extra {
		h[k] = v
	}
	if version >= 2 {
		h["protocolVersion"] = int64(2)
	}
	r.publish(amqp.Publishing{ContentType: "application/json", Headers: h, Body: r.cipher.EncryptMessage(plain, version)})
	return id
}

func (r *rig) publishRaw(body []byte) {
	r.t.Helper()
	r.publish(amqp.Publishing{Body: body})
}

// publish puts msg on the input queue and waits for the broker's confirm:
// once it returns, the message is in the queue for any channel that looks
// (without the confirm, a count on another channel could miss it).
func (r *rig) publish(msg amqp.Publishing) {
	r.t.Helper()
	dc, err := r.ch.PublishWithDeferredConfirmWithContext(context.Background(), "", r.name+":messages", false, false, msg)
	must(r.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if acked, err := dc.WaitContext(ctx); err != nil || !acked {
		r.t.Fatalf("input not confirmed: acked %v, err %v", acked, err)
	}
}

// next waits (bounded) for a message on one of the rig's queues.
func (r *rig) next(q string, timeout time.Duration) (amqp.Delivery, bool) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		d, ok, err := r.ch.Get(r.name+"_"+q, true)
		if err != nil {
			r.t.Fatalf("get %s: %v", q, err)
		}
		if ok {
			return d, true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return amqp.Delivery{}, false
}

func (r *rig) mustNext(q string, timeout time.Duration) amqp.Delivery {
	r.t.Helper()
	d, ok := r.next(q, timeout)
	if !ok {
		r.t.Fatalf("no message on %s within %v", q, timeout)
	}
	return d
}

// count is the number of ready messages in a queue (the input queue for "messages").
func (r *rig) count(q string) int {
	r.t.Helper()
	name := r.name + "_" + q
	if q == "messages" {
		name = r.name + ":messages"
	}
	c, err := r.conn.Channel()
	if err != nil {
		r.t.Fatal(err)
	}
	defer c.Close()
	info, err := c.QueueDeclarePassive(name, false, false, false, false, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	return info.Messages
}

func (r *rig) decode(d amqp.Delivery) map[string]any {
	r.t.Helper()
	v := 1
	if n, ok := d.Headers["protocolVersion"].(int64); ok {
		v = int(n)
	}
	plain, err := r.cipher.DecryptMessage(d.Body, v)
	if err != nil {
		r.t.Fatalf("decrypt v%d: %v", v, err)
	}
	var out map[string]any
	must(r.t, json.Unmarshal(plain, &out))
	return out
}

func (r *rig) decodeError(d amqp.Delivery) (errObj, input map[string]any) {
	r.t.Helper()
	var p struct{ Error, ErrorInput string }
	must(r.t, json.Unmarshal(d.Body, &p))
	plain, err := r.cipher.DecryptMessage([]byte(p.Error), 1)
	must(r.t, err)
	must(r.t, json.Unmarshal(plain, &errObj))
	if p.ErrorInput != "" {
		plain, err := r.cipher.DecryptMessage([]byte(p.ErrorInput), 1)
		must(r.t, err)
		must(r.t, json.Unmarshal(plain, &input))
	}
	return errObj, input
}

// syncBuffer collects log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// worker is an in-process sailor.Run.
type worker struct {
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func (r *rig) settings(overrides map[string]string) sailor.Settings {
	r.t.Helper()
	env := map[string]string{}
	for k, v := range r.env {
		env[k] = v
	}
	for k, v := range overrides {
		env[k] = v
	}
	s, err := sailor.LoadSettings(func(k string) string { return env[k] })
	must(r.t, err)
	return s
}

// start runs the worker in process; extra functions are added to the test component's.
func (r *rig) start(overrides map[string]string, extra map[string]component.Function) *worker {
	r.t.Helper()
	s := r.settings(overrides)
	fns := testfuncs.Functions()
	for k, v := range extra {
		fns[k] = v
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() {
		w.done <- sailor.Run(ctx, s, sailor.Deps{Functions: fns, Logger: sailor.NewLogger(logs, s.LogOptions(r.name)), Hostname: r.name, DrainTimeout: 10 * time.Second})
	}()
	r.t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(15 * time.Second):
			r.t.Error("worker did not stop")
		}
		if r.t.Failed() {
			r.t.Logf("worker logs:\n%s", logs.String())
		}
	})
	return w
}

func (w *worker) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(w.logs.String(), "Fully initialized and waiting for messages") {
			return
		}
		select {
		case err := <-w.done:
			t.Fatalf("worker stopped before it was ready: %v\n%s", err, w.logs.String())
		default:
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("worker not ready:\n%s", w.logs.String())
}

// result waits for Run to return.
func (w *worker) result(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-w.done:
		w.done <- err // for the cleanup
		return err
	case <-time.After(timeout):
		t.Fatalf("worker still running after %v", timeout)
		return nil
	}
}

// killReadConnection closes the worker's -read connection on the broker.
func (r *rig) killReadConnection() {
	r.t.Helper()
	script := filepath.Join("..", "..", "scripts", "rabbitmq.sh")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, err := exec.Command(script, "ctl", "-q", "list_connections", "--no-table-headers", "pid", "client_properties").Output()
		if err != nil {
			// Only a broker started by scripts/rabbitmq.sh can be controlled.
			r.t.Skipf("cannot list the broker's connections with scripts/rabbitmq.sh ctl (a broker it did not start?): %v", err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if name, props, ok := strings.Cut(line, "\t"); ok && strings.Contains(props, `{"connection_name","`+r.name+`-read"}`) {
				if out, err := exec.Command(script, "ctl", "close_connection", name, "test kills the read connection").CombinedOutput(); err != nil {
					r.t.Fatalf("close connection: %v %s", err, out)
				}
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatal("read connection not found")
}
