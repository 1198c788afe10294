//go:build integration

package sailor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/loadtest"
	"github.com/fitbitplus/connector/lib/sailor"
	"github.com/fitbitplus/connector/lib/sailor/internal/testfuncs"
	amqp "github.com/rabbitmq/amqp091-go"
)

// rig is one test's topology on the shared broker, platform API and
// environment (the official sailor's integration environment), built from
// the project's one RabbitMQ test rig, package loadtest.
type rig struct {
	t       *testing.T
	name    string // unique; also the worker's hostname
	top     *loadtest.Topology
	look    *loadtest.Inspector
	pub     *loadtest.Publisher
	api     *loadtest.Platform
	env     map[string]string
	cipher  *sailor.Cipher
	workers []*worker // started in process
}

// The rig's queues, by the event whose routing key they are bound to.
const (
	qNext     = "next"
	qErrors   = "errors"
	qReply    = "reply"
	qRebound  = "rebound"
	qSnapshot = "snapshot"
	qInput    = "messages"
	qDead     = "dead" // what the input queue dead-letters: rejected inputs
)

func newRig(t *testing.T) *rig {
	t.Helper()
	top, err := loadtest.DeclareTopology(loadtest.AMQPURL(), loadtest.TopologyOptions{Prefix: "sailortest"})
	if err != nil {
		t.Fatalf("broker at %s: %v (start it with scripts/rabbitmq.sh start)", loadtest.AMQPURL(), err)
	}
	t.Cleanup(func() { _ = top.Delete() })
	r := &rig{t: t, name: top.Name, top: top}
	r.cipher, err = sailor.NewCipher("testCryptoPassword", "iv=any16_symbols")
	must(t, err)
	r.look, err = top.Inspect()
	must(t, err)
	t.Cleanup(func() { _ = r.look.Close() })
	r.pub, err = loadtest.NewPublisher(top, r.cipher, false)
	must(t, err)
	t.Cleanup(func() { _ = r.pub.Close() })
	r.api = loadtest.NewPlatform(map[string]any{"apiKey": "secret"})
	r.api.SetStep("snapshot", map[string]any{"lastModifiedDate": 123456789})
	t.Cleanup(r.api.Close)
	r.env = map[string]string{
		"ELASTICIO_FLOW_ID": loadtest.FlowID, "ELASTICIO_STEP_ID": "step_1",
		"ELASTICIO_EXEC_ID": "some-exec-id", "ELASTICIO_WORKSPACE_ID": "5559edd38968ec073600683",
		"ELASTICIO_CONTAINER_ID": "dc1c8c3f-f9cb-49e1-a6b8-716af9e15948", "ELASTICIO_USER_ID": "5559edd38968ec0736000002",
		"ELASTICIO_COMP_ID": "5559edd38968ec0736000456", "ELASTICIO_FUNCTION": "echo",
		"ELASTICIO_API_URI": r.api.URL(), "ELASTICIO_API_USERNAME": loadtest.APIUsername, "ELASTICIO_API_KEY": loadtest.APIKey,
		"ELASTICIO_AMQP_URI": top.URL, "ELASTICIO_LISTEN_MESSAGES_ON": top.Input,
		"ELASTICIO_PUBLISH_MESSAGES_TO": top.Exchange,
		"ELASTICIO_DATA_ROUTING_KEY":    top.DataKey, "ELASTICIO_ERROR_ROUTING_KEY": top.ErrorKey,
		"ELASTICIO_REBOUND_ROUTING_KEY": top.ReboundKey, "ELASTICIO_SNAPSHOT_ROUTING_KEY": top.SnapshotKey,
		"ELASTICIO_MESSAGE_CRYPTO_IV": "iv=any16_symbols", "ELASTICIO_MESSAGE_CRYPTO_PASSWORD": "testCryptoPassword",
		"ELASTICIO_RABBITMQ_PREFETCH_SAILOR": "1", "ELASTICIO_AMQP_PUBLISH_RETRY_ATTEMPTS": "3",
		"ELASTICIO_AMQP_PUBLISH_MAX_RETRY_DELAY": "60000", "ELASTICIO_API_REQUEST_RETRY_DELAY": "10",
	}
	return r
}

// queue is the name of one of the rig's queues.
func (r *rig) queue(q string) string {
	switch q {
	case qNext:
		return r.top.DataQueue
	case qErrors:
		return r.top.ErrorQueue
	case qReply:
		return r.top.ReplyQueue
	case qRebound:
		return r.top.ReboundQueue
	case qSnapshot:
		return r.top.SnapshotQueue
	case qInput:
		return r.top.Input
	case qDead:
		return r.top.DeadQueue
	}
	r.t.Fatalf("no queue %q", q)
	return ""
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func defaultInput() map[string]any {
	return map[string]any{"headers": map[string]any{"stepId": "step_1"}, "body": map[string]any{"message": "Just do it!"}}
}

// publishInput publishes an encrypted input on the listen queue, waits for
// the broker's confirm (so that the input is in the queue for any channel
// that looks) and returns its messageId.
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
	r.publish(id, r.cipher.EncryptMessage(plain, version), h)
	return id
}

func (r *rig) publishRaw(body []byte) {
	r.t.Helper()
	r.publish("raw", body, nil)
}

func (r *rig) publish(id string, body []byte, headers amqp.Table) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	must(r.t, r.pub.PublishRaw(ctx, id, body, headers))
	must(r.t, r.pub.Confirm(ctx))
}

// next waits (bounded) for a message on one of the rig's queues.
func (r *rig) next(q string, timeout time.Duration) (amqp.Delivery, bool) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, ok, err := r.look.Get(r.queue(q))
		if err != nil {
			r.t.Fatalf("get %s: %v", q, err)
		}
		if ok || time.Now().After(deadline) {
			return d, ok
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) mustNext(q string, timeout time.Duration) amqp.Delivery {
	r.t.Helper()
	d, ok := r.next(q, timeout)
	if !ok {
		r.t.Fatalf("no message on %s within %v", q, timeout)
	}
	return d
}

// count is the number of ready messages in a queue.
func (r *rig) count(q string) int {
	r.t.Helper()
	n, _, err := r.top.Depth(r.queue(q))
	must(r.t, err)
	return n
}

// waitCount waits (bounded) until queue q holds n ready messages; it fails
// the test when that does not happen.
func (r *rig) waitCount(q string, n int) {
	r.t.Helper()
	deadline := time.Now().Add(wait)
	for r.count(q) != n {
		if time.Now().After(deadline) {
			r.t.Fatalf("queue %s holds %d messages after %v, want %d", q, r.count(q), wait, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitConsumers waits (bounded) until the input queue has n consumers.
func (r *rig) waitConsumers(n int) {
	r.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		_, c, err := r.top.Depth(r.top.Input)
		must(r.t, err)
		if c == n {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the input queue has %d consumers after %v, want %d", c, wait, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
	r.workers = append(r.workers, w)
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

// stopWorkers stops the in-process workers and waits for them: their inputs
// are then settled or back in the queue.
func (r *rig) stopWorkers() {
	r.t.Helper()
	for _, w := range r.workers {
		w.cancel()
		_ = w.result(r.t, 15*time.Second)
	}
}

// waitLog waits (bounded) until the worker logged line at least n times.
func (w *worker) waitLog(t *testing.T, line string, n int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for strings.Count(w.logs.String(), line) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%q logged %d times within %v, want %d:\n%s", line, strings.Count(w.logs.String(), line), wait, n, w.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
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
	if _, err := loadtest.SharedBroker.Ctl("-q", "status"); err != nil {
		// Only a broker started by scripts/rabbitmq.sh can be controlled.
		r.t.Skipf("cannot control the broker with scripts/rabbitmq.sh ctl (a broker it did not start?): %v", err)
	}
	must(r.t, loadtest.SharedBroker.CloseConnection(r.name+"-read", 10*time.Second))
}
