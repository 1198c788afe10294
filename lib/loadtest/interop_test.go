//go:build integration

package loadtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/loadtest"
	"github.com/fitbitplus/connector/lib/sailor"
	"github.com/fitbitplus/connector/lib/sandbox"
	amqp "github.com/rabbitmq/amqp091-go"
)

// The official Node.js sailor and message constructors the interop test runs
// beside the worker, installed once from the npm registry under .tmp/.
const (
	nodeSailorVersion = "2.7.8"
	nodeMessages      = "elasticio-node@0.0.9" // messages.newMessageWithBody, as Node components use it
)

// The Node component: "emit" re-emits its input body as a new message;
// "record" emits what its function got (the envelope's keys, id,
// attachments, metadata, headers, body and passthrough).
var nodeComponent = map[string]string{
	"component.json": `{"title": "interop", "actions": {"emit": {"main": "./emit.js"}, "record": {"main": "./record.js"}}}`,
	"emit.js": `const { messages } = require('elasticio-node');
exports.process = async function process(msg) {
  const out = messages.newMessageWithBody(msg.body);
  out.headers['x-node-header'] = 'emit';
  await this.emit('data', out);
};
`,
	"record.js": `const { messages } = require('elasticio-node');
exports.process = async function process(msg) {
  return messages.newMessageWithBody({ id: msg.id, keys: Object.keys(msg).sort(), attachments: msg.attachments,
    metadata: msg.metadata, headers: msg.headers, body: msg.body, passthrough: msg.passthrough });
};
`,
}

// nodeSailorDir installs the official sailor (once; later runs reuse it) and
// writes the Node component beside it; it skips the test when node or npm is
// missing or the registry cannot be reached.
func nodeSailorDir(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the interop test needs %s (Node 20 and npm): %v", tool, err)
		}
	}
	root, err := loadtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, ".tmp", "node-sailor-"+nodeSailorVersion)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	installed, _ := os.ReadFile(filepath.Join(dir, "node_modules", "elasticio-sailor-nodejs", "package.json"))
	_, msgErr := os.Stat(filepath.Join(dir, "node_modules", "elasticio-node", "lib", "messages.js"))
	if !bytes.Contains(installed, []byte(`"version": "`+nodeSailorVersion+`"`)) || msgErr != nil {
		pkg := `{"name": "interop-component", "private": true}` + "\n"
		if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(pkg), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		start := time.Now()
		cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact",
			"elasticio-sailor-nodejs@"+nodeSailorVersion, nodeMessages)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			if len(out) > 2000 {
				out = out[len(out)-2000:]
			}
			t.Skipf("cannot install the official sailor from the npm registry (unreachable?): %v\n%s", err, out)
		}
		t.Logf("npm installed elasticio-sailor-nodejs@%s and %s in %v", nodeSailorVersion, nodeMessages, time.Since(start).Round(time.Millisecond))
	}
	for name, text := range nodeComponent {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// interopStep is one step of the flow: its topology, a publisher into its
// input queue and an inspector of its queues.
type interopStep struct {
	name string
	top  *loadtest.Topology
	pub  *loadtest.Publisher
	insp *loadtest.Inspector
}

// TestInteropNodeSailor runs messages through a flow of three steps on one
// broker: an official Node.js sailor step (step_1, "emit"), this worker
// (step_2, toFhirObservation) and another official Node.js sailor step
// (step_3, "record"), all with is_passthrough and lightweight output above
// 2 KiB through one object store; the test routes each step's output to
// the next step's queue as the platform does. One message stays inline, the
// other goes through object storage. It checks that what the worker emits
// reaches the Node step as a Node step's output would: the same header keys
// and kinds of value, the thread, the parent, passthrough, msg.id equal to
// the AMQP messageId, and the envelope's attachments and metadata.
func TestInteropNodeSailor(t *testing.T) {
	began := time.Now()
	dir := nodeSailorDir(t)
	installed := time.Since(began)
	node, _ := exec.LookPath("node")
	bin := os.Getenv("LOADTEST_CONNECTOR") // another build, as the rig allows
	var err error
	if bin == "" {
		if bin, err = loadtest.BuildConnector(); err != nil {
			t.Fatal(err)
		}
	}
	c, err := sailor.NewCipher(loadtest.CryptoPassword, loadtest.CryptoIV)
	if err != nil {
		t.Fatal(err)
	}
	store := sandbox.NewObjectStore(objectToken, nil)
	storeSrv := httptest.NewServer(store)
	t.Cleanup(storeSrv.Close)
	platform := loadtest.NewPlatform(loadtest.StepConfig("http://127.0.0.1:1/pub"))
	t.Cleanup(platform.Close)
	platform.SetStep("is_passthrough", true)

	steps := make([]*interopStep, 3)
	for i := range steps {
		s := &interopStep{name: fmt.Sprintf("step_%d", i+1)}
		if s.top, err = loadtest.DeclareTopology(loadtest.AMQPURL(), loadtest.TopologyOptions{Prefix: "interop"}); err != nil {
			t.Fatalf("broker at %s: %v", loadtest.AMQPURL(), err)
		}
		t.Cleanup(func() { _ = s.top.Delete() })
		if s.pub, err = loadtest.NewPublisher(s.top, c, false); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.pub.Close() })
		if s.insp, err = s.top.Inspect(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.insp.Close() })
		steps[i] = s
	}
	env := func(s *interopStep, function string) map[string]string {
		return loadtest.WorkerEnv(s.top, platform.URL(), function, 1, map[string]string{
			"ELASTICIO_STEP_ID": s.name, "LOG_LEVEL": "info",
			"ELASTICIO_OBJECT_STORAGE_URI": storeSrv.URL, "ELASTICIO_OBJECT_STORAGE_TOKEN": objectToken,
			"ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE": "true", "ELASTICIO_OBJECT_STORAGE_SIZE_THRESHOLD": "2048",
		})
	}
	start := func(w *loadtest.Worker, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if !w.Exited() {
				_, _ = w.Stop(15 * time.Second)
			}
			if t.Failed() {
				t.Logf("process %d output:\n%s", w.Pid(), tail(w.Output(), 3000))
			}
		})
		if err := w.WaitReady(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	run := filepath.Join("node_modules", "elasticio-sailor-nodejs", "run.js")
	start(loadtest.StartWorkerIn(dir, node, env(steps[0], "emit"), run))
	start(loadtest.StartWorker(bin, env(steps[1], "toFhirObservation")))
	start(loadtest.StartWorkerIn(dir, node, env(steps[2], "record"), run))
	ready := time.Since(began)

	metric := func(note string) map[string]any {
		return map[string]any{"data": map[string]any{"type": "patient_health_metric", "id": "metric-1",
			"attributes":    map[string]any{"type": "weight", "value": 71.5, "unit": "kg", "occurred_at": "2026-11-01T07:30:00Z"},
			"relationships": map[string]any{"patient": map[string]any{"data": map[string]any{"type": "patient", "id": "patient-1"}}}},
			"meta": map[string]any{"note": note}}
	}
	for _, m := range []struct {
		id   string
		body map[string]any
	}{
		{"interop-inline", metric("small")},
		{"interop-lightweight", metric(strings.Repeat("n", 3000))},
	} {
		t.Run(m.id, func(t *testing.T) {
			headers := loadtest.InputHeaders(m.id)
			headers["x-eio-meta-origin"] = "interop-test"
			plain, _ := json.Marshal(map[string]any{"headers": map[string]any{}, "body": m.body})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// Each step's output, as delivered to the next step (and, for
			// step_3, to the test).
			outs := make([]amqp.Delivery, 3)
			body, h := c.EncryptMessage(plain, 1), headers
			for i, s := range steps {
				if err := s.pub.PublishRaw(ctx, m.id, body, h); err != nil {
					t.Fatal(err)
				}
				if err := s.pub.Confirm(ctx); err != nil {
					t.Fatal(err)
				}
				outs[i] = takeOutput(t, s.insp, s.top, c, s.name, 30*time.Second)
				body, h = outs[i].Body, outs[i].Headers
			}
			checkInterop(t, c, store, headers, m.body, outs)
		})
	}
	t.Logf("npm install or cache check %v; three processes ready after %v; whole test %v",
		installed.Round(time.Millisecond), ready.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// checkInterop compares the worker's output (outs[1]) with the Node steps'
// (outs[0], outs[2]) and with what the Node step after it recorded.
func checkInterop(t *testing.T, c *sailor.Cipher, store *sandbox.ObjectStore, input amqp.Table, inputBody any, outs []amqp.Delivery) {
	t.Helper()
	node1, worker, node3 := outs[0], outs[1], outs[2]
	// AMQP headers: the same keys, and the same kind of value under each.
	for i, d := range []amqp.Delivery{worker, node3} {
		name := []string{"the worker", "Node step_3"}[i]
		if got, want := headerKinds(d.Headers), headerKinds(node1.Headers); !reflect.DeepEqual(got, want) {
			t.Errorf("%s's headers %v; Node step_1's %v", name, got, want)
		}
	}
	t.Logf("header types on the wire: Node %s; worker %s", wireTypes(node1.Headers), wireTypes(worker.Headers))
	// Thread and parents.
	for i, d := range outs {
		if d.Headers["threadId"] != input["threadId"] {
			t.Errorf("step_%d: threadId %v, want %v", i+1, d.Headers["threadId"], input["threadId"])
		}
		parent := input["messageId"]
		if i > 0 {
			parent = outs[i-1].Headers["messageId"]
		}
		if d.Headers["parentMessageId"] != parent {
			t.Errorf("step_%d: parentMessageId %v, want %v", i+1, d.Headers["parentMessageId"], parent)
		}
	}
	// Envelopes: the same keys; each data message's id is its messageId.
	envs := make([]map[string]json.RawMessage, 3)
	for i, d := range outs {
		if err := json.Unmarshal(decryptData(t, c, d), &envs[i]); err != nil {
			t.Fatal(err)
		}
		var id string
		_ = json.Unmarshal(envs[i]["id"], &id)
		if id == "" || id != d.Headers["messageId"] {
			t.Errorf("step_%d: envelope id %q, messageId %v", i+1, id, d.Headers["messageId"])
		}
	}
	if got, want := keys(envs[1]), keys(envs[0]); !reflect.DeepEqual(got, want) {
		t.Errorf("the worker's envelope has %v; Node step_1's %v", got, want)
	}
	// What the Node component after the worker got.
	var seen struct {
		ID          string                     `json:"id"`
		Keys        []string                   `json:"keys"`
		Attachments json.RawMessage            `json:"attachments"`
		Metadata    json.RawMessage            `json:"metadata"`
		Body        json.RawMessage            `json:"body"`
		Passthrough map[string]json.RawMessage `json:"passthrough"`
	}
	rec := envelopeOf(t, envs[2])
	if id, empty := rec.ref(); id != "" && empty {
		rec.Body = storedJSON(t, c, store, id)
	}
	if err := json.Unmarshal(rec.Body, &seen); err != nil {
		t.Fatalf("step_3 recorded %s: %v", rec.Body, err)
	}
	if seen.ID != worker.Headers["messageId"] {
		t.Errorf("the Node component got msg.id %q; it was delivered with messageId %v", seen.ID, worker.Headers["messageId"])
	}
	if want := keys(envs[1]); !reflect.DeepEqual(seen.Keys, want) {
		t.Errorf("the Node component got keys %v; the worker emitted %v", seen.Keys, want)
	}
	if string(seen.Attachments) != "{}" || string(seen.Metadata) != "{}" {
		t.Errorf("the Node component got attachments %s and metadata %s, want {} and {}", seen.Attachments, seen.Metadata)
	}
	// Passthrough: each step's entries, shaped alike; as the Node component
	// after the worker resolved them, the bodies each step emitted.
	wantSteps := [][]string{{"step_1"}, {"step_1", "step_2"}, {"step_1", "step_2", "step_3"}}
	for i := range envs {
		e := envelopeOf(t, envs[i])
		if got := keys(e.Passthrough); !reflect.DeepEqual(got, wantSteps[i]) {
			t.Errorf("step_%d's passthrough has %v, want %v", i+1, got, wantSteps[i])
		}
		checkLightweightEntries(t, i+1, e)
	}
	w, n1 := envelopeOf(t, envs[1]), envelopeOf(t, envs[0])
	if got, want := entryKeys(t, w.Passthrough["step_2"]), entryKeys(t, n1.Passthrough["step_1"]); !reflect.DeepEqual(got, want) {
		t.Errorf("the worker's own passthrough entry has %v; Node step_1's %v", got, want)
	}
	resolved := func(e envelope) json.RawMessage {
		if id, empty := e.ref(); id != "" && empty {
			return storedJSON(t, c, store, id)
		}
		return e.Body
	}
	wantBodies := map[string]json.RawMessage{"step_2": resolved(w)}
	wantBodies["step_1"], _ = json.Marshal(inputBody)
	for step, want := range wantBodies {
		got := decodeEnvelope(t, seen.Passthrough[step]).Body
		if !jsonEqual(got, want) {
			t.Errorf("the Node component got passthrough.%s.body %.200s, want %.200s", step, got, want)
		}
	}
}

// checkLightweightEntries: when a step's output went to object storage, every
// passthrough entry is {} with an object id, as the official sailor sends
// them (an entry that already had an object keeps it, unuploaded).
func checkLightweightEntries(t *testing.T, step int, e envelope) {
	t.Helper()
	if id, empty := e.ref(); id == "" || !empty {
		return
	}
	for name, raw := range e.Passthrough {
		if id, empty := decodeEnvelope(t, raw).ref(); id == "" || !empty {
			t.Errorf("step_%d went lightweight, but its passthrough.%s is %.120s", step, name, raw)
		}
	}
}

func envelopeOf(t *testing.T, m map[string]json.RawMessage) envelope {
	t.Helper()
	b, _ := json.Marshal(m)
	return decodeEnvelope(t, b)
}

func entryKeys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("passthrough entry %s: %v", raw, err)
	}
	return keys(m)
}

// storedJSON is object id of store, decrypted.
func storedJSON(t *testing.T, c *sailor.Cipher, store *sandbox.ObjectStore, id string) json.RawMessage {
	t.Helper()
	ct, ok := store.Get(id)
	if !ok {
		t.Fatalf("object %s is not in the store", id)
	}
	plain, err := c.Decrypt(ct)
	if err != nil {
		t.Fatalf("object %s: %v", id, err)
	}
	return plain
}

// headerKinds maps each header to the kind of value a Node step reads from
// it: string, number, boolean or other.
func headerKinds(h amqp.Table) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		switch v.(type) {
		case string:
			out[k] = "string"
		case int8, int16, int32, int64, uint8, uint16, uint32, float32, float64:
			out[k] = "number"
		case bool:
			out[k] = "boolean"
		default:
			out[k] = fmt.Sprintf("%T", v)
		}
	}
	return out
}

// wireTypes lists the numeric headers with their decoded AMQP types.
func wireTypes(h amqp.Table) string {
	var parts []string
	for _, k := range keys(map[string]any(h)) {
		if _, ok := h[k].(string); !ok {
			parts = append(parts, fmt.Sprintf("%s:%T", k, h[k]))
		}
	}
	return strings.Join(parts, " ")
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
