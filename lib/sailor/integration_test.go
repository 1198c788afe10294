//go:build integration

package sailor_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/loadtest"
	amqp "github.com/rabbitmq/amqp091-go"
)

const wait = 10 * time.Second

func TestHappyPath(t *testing.T) {
	for _, out := range []int{1, 2} {
		for _, in := range []int{1, 2} {
			t.Run(map[int]string{1: "out_v1", 2: "out_v2"}[out]+"_"+map[int]string{1: "in_v1", 2: "in_v2"}[in], func(t *testing.T) {
				r := newRig(t)
				input := defaultInput()
				id := r.publishInput(input, nil, in)
				r.start(map[string]string{"ELASTICIO_PROTOCOL_VERSION": map[int]string{1: "1", 2: "2"}[out]}, nil)
				d := r.mustNext(qNext, wait)
				wantKeys := []string{"compId", "containerId", "end", "execId", "function", "messageId", "parentMessageId",
					"protocolVersion", "start", "stepId", "taskId", "threadId", "userId", "workspaceId"}
				if got := slices.Sorted(maps.Keys(d.Headers)); !slices.Equal(got, wantKeys) {
					t.Errorf("headers %v", got)
				}
				want := amqp.Table{"execId": "some-exec-id", "taskId": "5559edd38968ec0736000003", "workspaceId": "5559edd38968ec073600683",
					"containerId": "dc1c8c3f-f9cb-49e1-a6b8-716af9e15948", "userId": "5559edd38968ec0736000002", "stepId": "step_1",
					"compId": "5559edd38968ec0736000456", "function": "echo", "threadId": "thread-" + id, "parentMessageId": id,
					"protocolVersion": int64(out)}
				for k, v := range want {
					if d.Headers[k] != v {
						t.Errorf("header %s = %#v, want %#v", k, d.Headers[k], v)
					}
				}
				if d.ContentType != "application/json" || d.ContentEncoding != "utf8" || d.DeliveryMode != 1 || d.MessageId != "" || d.Expiration != "" || d.AppId != "" {
					t.Errorf("properties %+v", d)
				}
				body := r.decode(d)["body"].(map[string]any)
				msg, _ := json.Marshal(body["msg"])
				if string(msg) != `{"body":{"message":"Just do it!"},"headers":{"stepId":"step_1"}}` {
					t.Errorf("msg %s", msg)
				}
				// The test component echoes its cfg; unlike the official
				// sailor, the worker keeps the credential's secret out of
				// every event.
				cfg, _ := json.Marshal(body["cfg"])
				snap, _ := json.Marshal(body["snapshot"])
				if string(cfg) != `{"apiKey":"[REDACTED]"}` || string(snap) != `{"lastModifiedDate":123456789}` {
					t.Errorf("cfg %s snapshot %s", cfg, snap)
				}
				r.stopWorkers() // an unacked input would come back to the queue
				if r.count(qInput) != 0 || r.count(qDead) != 0 {
					t.Error("input not acked")
				}
			})
		}
	}
}

func TestPassthrough(t *testing.T) {
	input := map[string]any{"headers": map[string]any{"a": "b"}, "body": map[string]any{"x": 1},
		"passthrough": map[string]any{"step_oth": map[string]any{"headers": map[string]any{}, "body": map[string]any{"kept": true}}}}
	t.Run("default", func(t *testing.T) {
		r := newRig(t)
		r.api.SetStep("is_passthrough", true)
		r.publishInput(input, nil, 1)
		r.start(map[string]string{"ELASTICIO_STEP_ID": "step_2", "ELASTICIO_FUNCTION": "emit_data"}, nil)
		pt, _ := json.Marshal(r.decode(r.mustNext(qNext, wait))["passthrough"])
		want := `{"step_2":{"attachments":{},"body":{"hai":"there","id":"someId"},"headers":{"x-custom-component-header":"123_abc"},"id":"f45be600-f770-11e6-b42d-b187bfbf19fd","metadata":{}},"step_oth":{"body":{"kept":true},"headers":{}}}`
		if string(pt) != want {
			t.Errorf("passthrough %s", pt)
		}
	})
	t.Run("no_self_passthrough", func(t *testing.T) {
		r := newRig(t)
		r.api.SetStep("is_passthrough", true)
		r.publishInput(input, nil, 1)
		r.start(map[string]string{"ELASTICIO_STEP_ID": "step_2", "ELASTICIO_FUNCTION": "emit_data", "ELASTICIO_NO_SELF_PASSTRHOUGH": "true"}, nil)
		pt, _ := json.Marshal(r.decode(r.mustNext(qNext, wait))["passthrough"])
		want := `{"step_1":{"body":{"x":1},"headers":{"a":"b"}},"step_oth":{"body":{"kept":true},"headers":{}}}`
		if string(pt) != want {
			t.Errorf("passthrough %s", pt)
		}
	})
}

func TestHTTPReplyToReplyTo(t *testing.T) {
	r := newRig(t)
	r.publishInput(defaultInput(), amqp.Table{"reply_to": r.top.ReplyKey}, 1)
	r.start(map[string]string{"ELASTICIO_FUNCTION": "http_reply", "ELASTICIO_PROTOCOL_VERSION": "2"}, nil)
	d := r.mustNext(qReply, wait)
	if d.Headers["protocolVersion"] != int64(1) || d.Headers["reply_to"] != r.top.ReplyKey {
		t.Errorf("headers %v", d.Headers)
	}
	if b, _ := json.Marshal(r.decode(d)); string(b) != `{"body":"Ok","headers":{"content-type":"text/plain"},"statusCode":200}` {
		t.Errorf("reply %s", b)
	}
}

func TestAdditionalVarsForHeaders(t *testing.T) {
	r := newRig(t)
	r.publishInput(defaultInput(), nil, 1)
	r.start(map[string]string{
		"ELASTICIO_ADDITIONAL_VARS_FOR_HEADERS": "ELASTICIO_FIRST, ELASTICIO_SECOND_ELASTICIO_ENV ,ELASTICIO_NOT_PRESENT",
		"ELASTICIO_FIRST":                       "first", "ELASTICIO_SECOND_ELASTICIO_ENV": "second",
	}, nil)
	d := r.mustNext(qNext, wait)
	if d.Headers["first"] != "first" || d.Headers["secondElasticioEnv"] != "second" || len(d.Headers) != 16 {
		t.Errorf("headers %v", d.Headers)
	}
}

func TestInitFailure(t *testing.T) {
	r := newRig(t)
	w := r.start(map[string]string{"ELASTICIO_FUNCTION": "fails_to_init"}, nil)
	if err := w.result(t, wait); err == nil || !strings.Contains(err.Error(), "OMG. I cannot init") {
		t.Fatalf("Run = %v", err)
	}
	d := r.mustNext(qErrors, wait)
	e, input := r.decodeError(d)
	if e["message"] != "OMG. I cannot init" || input != nil {
		t.Errorf("error %v input %v", e, input)
	}
	want := []string{"compId", "containerId", "execId", "function", "stepId", "taskId", "userId", "workspaceId"}
	if got := slices.Sorted(maps.Keys(d.Headers)); !slices.Equal(got, want) {
		t.Errorf("headers %v", got)
	}
}

func TestStartupHooks(t *testing.T) {
	hooks := "/sailor-support/hooks/task/5559edd38968ec0736000003/startup/data"
	cases := []struct {
		name, function string
		postCodes      []int
		want           []string
	}{
		{"startup_state", "with_hooks", nil, []string{"POST " + hooks + ` {"subscriptionResult":{"status":"ok"}}`}},
		{"hooks_data_exists", "with_hooks", []int{409}, []string{"POST " + hooks + ` {"subscriptionResult":{"status":"ok"}}`, "DELETE " + hooks, "POST " + hooks + ` {"subscriptionResult":{"status":"ok"}}`}},
		{"no_startup_hook", "echo", nil, []string{"POST " + hooks + " {}"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			r.api.SetHooks(c.postCodes, "")
			r.publishInput(defaultInput(), nil, 1)
			r.start(map[string]string{"ELASTICIO_FUNCTION": c.function, "ELASTICIO_STARTUP_REQUIRED": "1"}, nil)
			r.mustNext(qNext, wait)
			calls := r.api.Log()
			if len(calls) < 1 || !strings.HasPrefix(calls[0], "GET /v1/tasks/5559edd38968ec0736000003/steps/step_1") || !slices.Equal(calls[1:], c.want) {
				t.Errorf("calls %q", calls)
			}
		})
	}
}

type shutdownRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (s *shutdownRecorder) Process(context.Context, *component.Exec) error { return nil }
func (s *shutdownRecorder) Shutdown(_ context.Context, cfg component.Config, state json.RawMessage) error {
	b, _ := json.Marshal(map[string]any{"cfg": cfg, "startupData": state})
	s.mu.Lock()
	s.calls = append(s.calls, string(b))
	s.mu.Unlock()
	return nil
}

func TestHookShutdown(t *testing.T) {
	r := newRig(t)
	r.api.SetHooks(nil, `{"subId":"507"}`)
	rec := &shutdownRecorder{}
	env := map[string]string{"ELASTICIO_HOOK_SHUTDOWN": "1", "ELASTICIO_FUNCTION": "shutdown_hook", "ELASTICIO_AMQP_URI": "", "ELASTICIO_MESSAGE_CRYPTO_PASSWORD": ""}
	w := r.start(env, map[string]component.Function{"shutdown_hook": rec})
	if err := w.result(t, wait); err != nil {
		t.Fatal(err)
	}
	if len(rec.calls) != 1 || rec.calls[0] != `{"cfg":{"apiKey":"secret"},"startupData":{"subId":"507"}}` {
		t.Errorf("shutdown hook calls %q", rec.calls)
	}
	calls := r.api.Log()
	if len(calls) != 3 || !strings.HasPrefix(calls[1], "GET /sailor-support/") || !strings.HasPrefix(calls[2], "DELETE /sailor-support/") {
		t.Errorf("calls %q", calls)
	}
}

func TestListenQueueMissing(t *testing.T) {
	r := newRig(t)
	must(t, r.top.DeleteInput())
	w := r.start(nil, nil)
	if err := w.result(t, wait); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Run = %v, want a 404 consume failure", err)
	}
}

func TestAMQPConnectFailure(t *testing.T) {
	r := newRig(t)
	w := r.start(map[string]string{"ELASTICIO_AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"}, nil)
	if err := w.result(t, wait); err == nil {
		t.Fatal("Run succeeded")
	}
	if _, ok := r.next(qErrors, 300*time.Millisecond); ok {
		t.Error("an error was published")
	}
	if len(r.api.Log()) != 0 {
		t.Error("the platform was called")
	}
}

func TestConsumerCancelledByServer(t *testing.T) {
	r := newRig(t)
	w := r.start(map[string]string{"ELASTICIO_AMQP_RECONNECT_ATTEMPTS": "20", "ELASTICIO_AMQP_RECONNECT_TIMEOUT": "100"}, nil)
	w.waitReady(t)
	// Deleting the queue cancels the consumer; recreate it before the retries run out.
	must(t, r.top.DeleteInput())
	must(t, r.top.DeclareInput())
	r.publishInput(defaultInput(), nil, 1)
	r.mustNext(qNext, wait)
	if !strings.Contains(w.logs.String(), "consumer re-established") {
		t.Error("no reconnect logged")
	}
}

func TestReadConnectionKilled(t *testing.T) {
	r := newRig(t)
	w := r.start(nil, nil)
	w.waitReady(t)
	first := r.publishInput(defaultInput(), nil, 1)
	if d := r.mustNext(qNext, wait); d.Headers["parentMessageId"] != first {
		t.Fatalf("first answer %v", d.Headers)
	}
	r.killReadConnection()
	second := r.publishInput(defaultInput(), nil, 1)
	if d := r.mustNext(qNext, wait); d.Headers["parentMessageId"] != second {
		t.Fatalf("second answer %v", d.Headers)
	}
}

func TestReadConnectionKilledTwiceDuringSlowMessage(t *testing.T) {
	r := newRig(t)
	w := r.start(map[string]string{"ELASTICIO_FUNCTION": "sleep_echo"}, nil)
	w.waitReady(t)
	// Long enough for both kills: each rabbitmqctl call takes about a second.
	slow := map[string]any{"headers": map[string]any{"stepId": "step_1"}, "body": map[string]any{"sleepMs": 7000}}
	first := r.publishInput(slow, nil, 1)
	r.waitCount(qInput, 0) // in process
	r.killReadConnection()
	w.waitLog(t, "consumer re-established", 1)
	r.killReadConnection()
	w.waitLog(t, "consumer re-established", 2)
	second := r.publishInput(defaultInput(), nil, 1)
	got := map[any]int{}
	for range 2 {
		d := r.mustNext(qNext, wait)
		got[d.Headers["parentMessageId"]]++
	}
	if _, ok := r.next(qNext, 2*time.Second); ok {
		t.Error("a third answer")
	}
	if got[first] != 1 || got[second] != 1 {
		t.Errorf("answers %v", got)
	}
	if !strings.Contains(w.logs.String(), "Duplicate message detected") {
		t.Error("the redelivered copy was not detected")
	}
	// Once the worker stops, an unacked input would come back to the queue.
	r.stopWorkers()
	if n := r.count(qInput); n != 0 {
		t.Errorf("%d inputs left unacked", n)
	}
}

func TestReboundExpirationAndLimit(t *testing.T) {
	r := newRig(t)
	r.publishInput(defaultInput(), nil, 1)
	r.publishInput(defaultInput(), amqp.Table{"reboundIteration": int8(2)}, 1)
	r.publishInput(defaultInput(), amqp.Table{"reboundIteration": int64(5)}, 1)
	r.start(map[string]string{"ELASTICIO_FUNCTION": "rebound", "ELASTICIO_REBOUND_LIMIT": "5", "ELASTICIO_REBOUND_INITIAL_EXPIRATION": "60000"}, nil)
	for _, want := range []struct {
		iter int64
		exp  string
	}{{1, "60000"}, {3, "240000"}} {
		d := r.mustNext(qRebound, wait)
		if d.Headers["reboundIteration"] != want.iter || d.Expiration != want.exp || d.Headers["reboundReason"] != "the API is busy" {
			t.Errorf("rebound %v expiration %q", d.Headers, d.Expiration)
		}
	}
	e, input := r.decodeError(r.mustNext(qErrors, wait))
	if e["message"] != "Rebound limit exceeded" || input == nil {
		t.Errorf("error %v input %v", e, input)
	}
	// Past the limit the input is acked, as the official sailor does: once
	// the worker stops, nothing comes back to the queue or goes to the DLX.
	r.stopWorkers()
	if r.count(qInput) != 0 || r.count(qDead) != 0 {
		t.Errorf("inputs: %d back in the queue, %d dead-lettered; want all acked", r.count(qInput), r.count(qDead))
	}
}

func TestErrorPayloadAndReplyTo(t *testing.T) {
	r := newRig(t)
	r.publishInput(defaultInput(), amqp.Table{"reply_to": r.top.ReplyKey}, 2)
	r.start(map[string]string{"ELASTICIO_FUNCTION": "fail"}, nil)
	d := r.mustNext(qErrors, wait)
	var raw map[string]any
	must(t, json.Unmarshal(d.Body, &raw))
	if len(raw) != 2 {
		t.Errorf("payload keys %v", raw)
	}
	e, input := r.decodeError(d)
	if b, _ := json.Marshal(e); string(b) != `{"message":"OMG. I failed","name":"Error","stack":"Not Available"}` {
		t.Errorf("error %s", b)
	}
	if b, _ := json.Marshal(input); string(b) != `{"body":{"message":"Just do it!"},"headers":{"stepId":"step_1"}}` {
		t.Errorf("errorInput %s", b)
	}
	rep := r.mustNext(qReply, wait)
	if rep.Headers["x-eio-error-response"] != true || string(rep.Body) != raw["error"] {
		t.Errorf("reply %v %s", rep.Headers, rep.Body)
	}
	r.waitCount(qDead, 1) // the failed input was rejected
}

func TestGarbageAndPanicDoNotStopTheWorker(t *testing.T) {
	r := newRig(t)
	r.publishRaw(nil)
	r.publishRaw([]byte("not base64 at all"))
	r.publishRaw(r.cipher.EncryptMessage([]byte("not json"), 1))
	panicky := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		var b map[string]any
		_ = json.Unmarshal(ex.Msg.Body, &b)
		if b["panic"] == true {
			panic("boom")
		}
		return ex.Emit.Data(ctx, &component.Message{Body: ex.Msg.Body})
	})
	r.publishInput(map[string]any{"body": map[string]any{"panic": true}}, nil, 1)
	ok := r.publishInput(defaultInput(), nil, 1)
	w := r.start(map[string]string{"ELASTICIO_FUNCTION": "panicky"}, map[string]component.Function{"panicky": panicky})
	if d := r.mustNext(qNext, wait); d.Headers["parentMessageId"] != ok {
		t.Errorf("answer %v", d.Headers)
	}
	e, _ := r.decodeError(r.mustNext(qErrors, wait))
	if e["name"] != "PanicError" {
		t.Errorf("error %v", e)
	}
	if _, more := r.next(qErrors, 300*time.Millisecond); more {
		t.Error("garbage produced an error event")
	}
	if n := strings.Count(w.logs.String(), "rejecting a message that cannot be decoded"); n != 3 {
		t.Errorf("%d decode rejections logged, want 3", n)
	}
	if strings.Contains(w.logs.String(), "testCryptoPassword") || strings.Contains(w.logs.String(), loadtest.APIKey) {
		t.Error("a secret in the logs")
	}
}

func TestPrefetchProcessesConcurrently(t *testing.T) {
	r := newRig(t)
	for range 3 {
		r.publishInput(defaultInput(), nil, 1)
	}
	start := time.Now()
	r.start(map[string]string{"ELASTICIO_FUNCTION": "slow_echo", "ELASTICIO_RABBITMQ_PREFETCH_SAILOR": "3"}, nil)
	for range 3 {
		r.mustNext(qNext, wait)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("3 slow messages with prefetch 3 took %v", el)
	}
}

// TestDataEventsKeepTheirBodies: a data event's buffers are reused once its
// publish returns, so every event published through the real broker must
// arrive with its own body, whether emitted one after another or at once.
func TestDataEventsKeepTheirBodies(t *testing.T) {
	r := newRig(t)
	const n = 40
	emitMany := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		emit := func(i int) error {
			body, _ := json.Marshal(map[string]any{"i": i, "pad": strings.Repeat(string(rune('a'+i%26)), 10+i*37)})
			return ex.Emit.Data(ctx, &component.Message{Body: body})
		}
		for i := range n / 2 {
			if err := emit(i); err != nil {
				return err
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, n/2)
		for i := n / 2; i < n; i++ {
			wg.Go(func() { errs <- emit(i) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	})
	r.publishInput(defaultInput(), nil, 1)
	r.start(map[string]string{"ELASTICIO_FUNCTION": "emitMany", "ELASTICIO_DATA_RATE_LIMIT": "1000"}, map[string]component.Function{"emitMany": emitMany})
	seen := map[int]bool{}
	for range n {
		body := r.decode(r.mustNext(qNext, wait))["body"].(map[string]any)
		i := int(body["i"].(float64))
		if want := strings.Repeat(string(rune('a'+i%26)), 10+i*37); body["pad"] != want || seen[i] {
			t.Fatalf("event %d arrived damaged or twice: %v", i, body)
		}
		seen[i] = true
	}
}
