package sailor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	amqp "github.com/rabbitmq/amqp091-go"
)

func emitData(body string, headers map[string]any) component.FunctionFunc {
	return func(ctx context.Context, ex *component.Exec) error {
		return ex.Emit.Data(ctx, &component.Message{ID: "f45be600-f770-11e6-b42d-b187bfbf19fd", Headers: headers, Body: json.RawMessage(body)})
	}
}

func TestHandleDataHeadersAndProperties(t *testing.T) {
	for _, version := range []int{1, 2} {
		env := testEnv()
		if version == 2 {
			env["ELASTICIO_PROTOCOL_VERSION"] = "2"
		}
		w, fp := newTestWorker(t, env, stepData{}, emitData(`{"hai":"there"}`, map[string]any{"x-custom-component-header": "123_abc"}))
		d := inputDelivery(t, w, defaultInput(), inputHeaders(), version)
		if got := w.handle(context.Background(), d, alwaysLive); got != outcomeAck {
			t.Fatalf("v%d: outcome %v, want ack", version, got)
		}
		out := fp.byKey("P:routing_key:message")
		if len(out) != 1 || len(fp.all()) != 1 {
			t.Fatalf("v%d: published %v", version, fp.all())
		}
		h := out[0].msg.Headers
		wantKeys := []string{"compId", "containerId", "end", "execId", "function", "messageId", "parentMessageId",
			"protocolVersion", "start", "stepId", "taskId", "threadId", "userId", "workspaceId"}
		if got := slices.Sorted(maps.Keys(h)); !slices.Equal(got, wantKeys) {
			t.Errorf("v%d: header keys %v, want %v", version, got, wantKeys)
		}
		want := amqp.Table{"execId": "some-exec-id", "taskId": "5559edd38968ec0736000003", "workspaceId": "5559edd38968ec073600683",
			"containerId": "dc1c8c3f-f9cb-49e1-a6b8-716af9e15948", "userId": "5559edd38968ec0736000002", "stepId": "step_1",
			"compId": "5559edd38968ec0736000456", "function": "echo", "threadId": "thread-1", "parentMessageId": "in-msg-1",
			"protocolVersion": int64(version)}
		for k, v := range want {
			if h[k] != v {
				t.Errorf("v%d: header %s = %#v, want %#v", version, k, h[k], v)
			}
		}
		for _, k := range []string{"start", "end"} {
			if _, ok := h[k].(int64); !ok {
				t.Errorf("v%d: header %s = %#v, want an integer", version, k, h[k])
			}
		}
		// The emitted message's own id, which the next step's component
		// sees as msg.id, is its messageId, as the official sailors do.
		if id := h["messageId"]; id != "f45be600-f770-11e6-b42d-b187bfbf19fd" || decodeData(t, w, out[0])["id"] != id {
			t.Errorf("v%d: messageId = %q, want the message's id", version, id)
		}
		m := out[0].msg
		if m.ContentType != "application/json" || m.ContentEncoding != "utf8" || m.DeliveryMode != 1 ||
			m.MessageId != "" || m.Expiration != "" || m.ReplyTo != "" || !m.Timestamp.IsZero() || m.AppId != "" {
			t.Errorf("v%d: properties %+v", version, m)
		}
		body := decodeData(t, w, out[0])
		if b, _ := json.Marshal(body["body"]); string(b) != `{"hai":"there"}` {
			t.Errorf("v%d: body %s", version, b)
		}
	}
}

func TestHandleFreshMessageIDPerEmit(t *testing.T) {
	fn := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		for range 3 {
			if err := ex.Emit.Data(ctx, &component.Message{ID: "same", Body: json.RawMessage(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	w, fp := newTestWorker(t, testEnv(), stepData{}, fn)
	w.handle(context.Background(), inputDelivery(t, w, defaultInput(), inputHeaders(), 1), alwaysLive)
	ids := map[any]bool{}
	for _, p := range fp.all() {
		ids[p.msg.Headers["messageId"]] = true
	}
	// The first keeps its id; the repeats get fresh ones, which become their ids.
	if len(ids) != 3 || !ids["same"] {
		t.Errorf("messageIds %v for 3 data events with the id \"same\"", ids)
	}
	for _, p := range fp.all() {
		if decodeData(t, w, p)["id"] != p.msg.Headers["messageId"] {
			t.Errorf("message id %v, messageId %v", decodeData(t, w, p)["id"], p.msg.Headers["messageId"])
		}
	}
}

func TestHandleMetaReplyToAndAdditionalHeaders(t *testing.T) {
	env := testEnv()
	env["ELASTICIO_ADDITIONAL_VARS_FOR_HEADERS"] = "ELASTICIO_FIRST"
	env["ELASTICIO_FIRST"] = "first"
	var seen map[string]any
	fn := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		seen = ex.Msg.Headers
		return ex.Emit.Data(ctx, &component.Message{Body: json.RawMessage(`{}`)})
	})
	w, fp := newTestWorker(t, env, stepData{}, fn)
	h := inputHeaders()
	h["X-EIO-Meta-Trace"] = "abc"
	h["reply_to"] = "reply-key"
	h["unrelated"] = "dropped"
	delete(h, "threadId")
	h["x-eio-meta-trace-id"] = "trace-7"
	w.handle(context.Background(), inputDelivery(t, w, defaultInput(), h, 1), alwaysLive)
	if seen["reply_to"] != "reply-key" {
		t.Errorf("msg.headers.reply_to = %v", seen["reply_to"])
	}
	out := fp.all()[0].msg.Headers
	for k, v := range map[string]any{"x-eio-meta-trace": "abc", "reply_to": "reply-key", "first": "first", "threadId": "trace-7", "x-eio-meta-trace-id": "trace-7"} {
		if out[k] != v {
			t.Errorf("header %s = %v, want %v", k, out[k], v)
		}
	}
	if _, ok := out["unrelated"]; ok {
		t.Error("unrelated input header copied")
	}
}

func TestHandleRoutingKeyOverride(t *testing.T) {
	w, fp := newTestWorker(t, testEnv(), stepData{}, emitData(`{}`, map[string]any{"X-EIO-Routing-Key": "custom", "keep": "1"}))
	w.handle(context.Background(), inputDelivery(t, w, defaultInput(), inputHeaders(), 1), alwaysLive)
	out := fp.byKey("custom")
	if len(out) != 1 {
		t.Fatalf("published %v", fp.all())
	}
	hdrs := decodeData(t, w, out[0])["headers"].(map[string]any)
	if _, ok := hdrs["X-EIO-Routing-Key"]; ok || hdrs["keep"] != "1" {
		t.Errorf("body headers %v", hdrs)
	}
}

func TestHandlePassthrough(t *testing.T) {
	input := map[string]any{"headers": map[string]any{"h": "1"}, "body": map[string]any{"b": 1},
		"passthrough": map[string]any{"step_oth": map[string]any{"body": map[string]any{"kept": true}}}}
	t.Run("default", func(t *testing.T) {
		env := testEnv()
		env["ELASTICIO_STEP_ID"] = "step_2"
		w, fp := newTestWorker(t, env, stepData{IsPassthrough: true}, emitData(`{"hai":"there","id":"someId"}`, map[string]any{"x-custom-component-header": "123_abc"}))
		w.handle(context.Background(), inputDelivery(t, w, input, amqp.Table{"stepId": "step_1"}, 1), alwaysLive)
		pt := decodeData(t, w, fp.all()[0])["passthrough"].(map[string]any)
		got, _ := json.Marshal(pt)
		want := `{"step_2":{"attachments":{},"body":{"hai":"there","id":"someId"},"headers":{"x-custom-component-header":"123_abc"},"id":"f45be600-f770-11e6-b42d-b187bfbf19fd","metadata":{}},"step_oth":{"body":{"kept":true}}}`
		if string(got) != want {
			t.Errorf("passthrough %s\nwant        %s", got, want)
		}
	})
	t.Run("no self passthrough", func(t *testing.T) {
		env := testEnv()
		env["ELASTICIO_STEP_ID"] = "step_2"
		env["ELASTICIO_NO_SELF_PASSTRHOUGH"] = "true"
		w, fp := newTestWorker(t, env, stepData{IsPassthrough: true}, emitData(`{}`, nil))
		w.handle(context.Background(), inputDelivery(t, w, input, amqp.Table{"stepId": "step_1", "reply_to": "r"}, 1), alwaysLive)
		got, _ := json.Marshal(decodeData(t, w, fp.byKey("P:routing_key:message")[0])["passthrough"])
		want := `{"step_1":{"body":{"b":1},"headers":{"h":"1"}},"step_oth":{"body":{"kept":true}}}`
		if string(got) != want {
			t.Errorf("passthrough %s\nwant        %s", got, want)
		}
	})
	t.Run("off", func(t *testing.T) {
		w, fp := newTestWorker(t, testEnv(), stepData{}, emitData(`{}`, nil))
		w.handle(context.Background(), inputDelivery(t, w, input, nil, 1), alwaysLive)
		if _, ok := decodeData(t, w, fp.all()[0])["passthrough"]; ok {
			t.Error("passthrough added while is_passthrough is false")
		}
	})
}

func TestHandleSizeLimit(t *testing.T) {
	env := testEnv()
	env["ELASTICIO_OUTGOING_MESSAGE_SIZE_LIMIT"] = "100"
	var emitErr error
	fn := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		emitErr = ex.Emit.Data(ctx, &component.Message{Body: json.RawMessage(`{"big":"` + strings.Repeat("x", 200) + `"}`)})
		return emitErr
	})
	w, fp := newTestWorker(t, env, stepData{}, fn)
	if got := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive); got != outcomeReject {
		t.Errorf("outcome %v, want reject", got)
	}
	if len(fp.byKey("P:routing_key:message")) != 0 {
		t.Error("oversized data published")
	}
	errs := fp.byKey("P:routing_key:error")
	if len(errs) != 1 {
		t.Fatalf("%d error events, want exactly 1 (not repeated when the function returns it)", len(errs))
	}
	e, _ := decodeError(t, w, errs[0])
	if !strings.HasPrefix(e["message"].(string), "Outgoing message size ") || !strings.HasSuffix(e["message"].(string), "exceeds limit of 100.") {
		t.Errorf("error message %q", e["message"])
	}
	if emitErr == nil {
		t.Error("Data returned no error")
	}
}

type describedErr struct{}

func (describedErr) Error() string     { return "patient not found" }
func (describedErr) ErrorName() string { return "NotFound" }
func (describedErr) ErrorFields() map[string]any {
	return map[string]any{"status": 404, "name": "ignored"}
}

func TestHandleErrorPayload(t *testing.T) {
	fail := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		return errors.Join(describedErr{}, errors.New("with testCryptoPassword inside"))
	})
	w, fp := newTestWorker(t, testEnv(), stepData{}, fail)
	h := inputHeaders()
	h["reply_to"] = "reply-key"
	d := inputDelivery(t, w, defaultInput(), h, 2)
	if got := w.handle(context.Background(), d, alwaysLive); got != outcomeReject {
		t.Fatalf("outcome %v, want reject", got)
	}
	errs := fp.byKey("P:routing_key:error")
	if len(errs) != 1 {
		t.Fatalf("published %v", fp.all())
	}
	e, input := decodeError(t, w, errs[0])
	if e["name"] != "NotFound" || e["status"] != float64(404) || e["stack"] != "Not Available" {
		t.Errorf("error JSON %v", e)
	}
	if msg := e["message"].(string); strings.Contains(msg, "testCryptoPassword") || !strings.Contains(msg, "patient not found") {
		t.Errorf("error message %q", msg)
	}
	if b, _ := json.Marshal(input); string(b) != `{"body":{"message":"Just do it!"},"headers":{"stepId":"step_1"}}` {
		t.Errorf("errorInput %s", b)
	}
	if _, ok := errs[0].msg.Headers["end"].(int64); !ok {
		t.Error("error without an integer end header")
	}
	replies := fp.byKey("reply-key")
	if len(replies) != 1 {
		t.Fatalf("reply_to copies: %d", len(replies))
	}
	if replies[0].msg.Headers["x-eio-error-response"] != true {
		t.Errorf("reply headers %v", replies[0].msg.Headers)
	}
	var payload errorPayload
	_ = json.Unmarshal(errs[0].msg.Body, &payload)
	if string(replies[0].msg.Body) != payload.Error {
		t.Error("reply_to copy is not the error ciphertext")
	}

	env := testEnv()
	env["ELASTICIO_NO_ERROR_REPLIES"] = "true"
	w, fp = newTestWorker(t, env, stepData{}, fail)
	w.handle(context.Background(), inputDelivery(t, w, defaultInput(), h, 1), alwaysLive)
	if len(fp.byKey("reply-key")) != 0 {
		t.Error("error replied with NO_ERROR_REPLIES")
	}
}

func TestErrorInputV1IsTheContent(t *testing.T) {
	w, fp := newTestWorker(t, testEnv(), stepData{}, component.FunctionFunc(func(context.Context, *component.Exec) error { return errors.New("x") }))
	d := inputDelivery(t, w, defaultInput(), nil, 1)
	w.handle(context.Background(), d, alwaysLive)
	var payload errorPayload
	_ = json.Unmarshal(fp.all()[0].msg.Body, &payload)
	if payload.ErrorInput != string(d.Body) {
		t.Errorf("errorInput %q, want the input content", payload.ErrorInput)
	}
}

func TestHandleRebound(t *testing.T) {
	rebound := component.FunctionFunc(func(context.Context, *component.Exec) error {
		return component.Rebound(errors.New("try later"))
	})
	cases := []struct {
		in       any // reboundIteration header
		wantIter int64
		wantExp  string
	}{
		{nil, 1, "15000"}, {int8(1), 2, "30000"}, {int32(2), 3, "60000"}, {"7", 1, "15000"}, {float64(19), 20, "7864320000"},
	}
	for _, c := range cases {
		w, fp := newTestWorker(t, testEnv(), stepData{}, rebound)
		h := inputHeaders()
		h["custom"] = "kept"
		if c.in != nil {
			h["reboundIteration"] = c.in
		}
		d := inputDelivery(t, w, defaultInput(), h, 1)
		d.Priority = 3
		if got := w.handle(context.Background(), d, alwaysLive); got != outcomeAck {
			t.Errorf("%v: outcome %v, want ack", c.in, got)
		}
		out := fp.byKey("P:routing_key:rebound")
		if len(out) != 1 || len(fp.all()) != 1 {
			t.Fatalf("%v: published %v", c.in, fp.all())
		}
		m := out[0].msg
		if m.Headers["reboundIteration"] != c.wantIter || m.Expiration != c.wantExp || m.Headers["reboundReason"] != "try later" ||
			m.Headers["custom"] != "kept" || m.Priority != 3 || string(m.Body) != string(d.Body) {
			t.Errorf("%v: rebound %+v", c.in, m)
		}
	}
	w, fp := newTestWorker(t, testEnv(), stepData{}, rebound)
	h := inputHeaders()
	h["reboundIteration"] = int64(20)
	if got := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), h, 1), alwaysLive); got != outcomeAck {
		t.Errorf("limit exceeded: outcome %v, want ack", got)
	}
	errs := fp.byKey("P:routing_key:error")
	if len(errs) != 1 || len(fp.byKey("P:routing_key:rebound")) != 0 {
		t.Fatalf("published %v", fp.all())
	}
	if e, input := decodeError(t, w, errs[0]); e["message"] != "Rebound limit exceeded" || input == nil {
		t.Errorf("error %v, input %v", e, input)
	}
}

func TestHandleBadInputRejectedWithoutPublishing(t *testing.T) {
	called := false
	w, fp := newTestWorker(t, testEnv(), stepData{}, component.FunctionFunc(func(context.Context, *component.Exec) error { called = true; return nil }))
	for name, body := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("garbage!"),
		"not json":  w.cipher.EncryptMessage([]byte("not json"), 1),
		"null":      w.cipher.EncryptMessage([]byte("null"), 1),
		"array":     w.cipher.EncryptMessage([]byte("[1]"), 1),
		"v2 as raw": w.cipher.EncryptMessage([]byte("{}"), 1),
	} {
		h := amqp.Table{}
		if name == "v2 as raw" {
			h["protocolVersion"] = "2"
		}
		if got := w.handle(context.Background(), &amqp.Delivery{Body: body, Headers: h}, alwaysLive); got != outcomeReject {
			t.Errorf("%s: outcome %v, want reject", name, got)
		}
	}
	if called || len(fp.all()) != 0 {
		t.Errorf("called=%v published=%v", called, fp.all())
	}
}

func TestHandlePanicBecomesErrorEvent(t *testing.T) {
	w, fp := newTestWorker(t, testEnv(), stepData{}, component.FunctionFunc(func(context.Context, *component.Exec) error { panic("boom") }))
	if got := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive); got != outcomeReject {
		t.Errorf("outcome %v, want reject", got)
	}
	errs := fp.byKey("P:routing_key:error")
	if len(errs) != 1 {
		t.Fatalf("published %v", fp.all())
	}
	if e, _ := decodeError(t, w, errs[0]); e["name"] != "PanicError" || !strings.Contains(e["message"].(string), "boom") {
		t.Errorf("error %v", e)
	}
}

func TestHandleHTTPReply(t *testing.T) {
	env := testEnv()
	env["ELASTICIO_PROTOCOL_VERSION"] = "2"
	fn := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		return ex.Emit.HTTPReply(ctx, component.HTTPReply{StatusCode: 200, Body: "Ok", Headers: map[string]string{"content-type": "text/plain"}})
	})
	w, fp := newTestWorker(t, env, stepData{}, fn)
	h := inputHeaders()
	h["reply_to"] = "Prequest_reply_routing_key"
	if got := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), h, 1), alwaysLive); got != outcomeAck {
		t.Fatalf("outcome %v", got)
	}
	out := fp.byKey("Prequest_reply_routing_key")
	if len(out) != 1 || out[0].msg.Headers["protocolVersion"] != int64(1) || out[0].msg.Headers["reply_to"] != "Prequest_reply_routing_key" {
		t.Fatalf("published %v", fp.all())
	}
	if b, _ := json.Marshal(decodeData(t, w, out[0])); string(b) != `{"body":"Ok","headers":{"content-type":"text/plain"},"statusCode":200}` {
		t.Errorf("reply %s", b)
	}
	// Without reply_to: an error event and a reject.
	w, fp = newTestWorker(t, env, stepData{}, fn)
	if got := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive); got != outcomeReject {
		t.Errorf("outcome %v, want reject", got)
	}
	if len(fp.byKey("P:routing_key:error")) != 1 {
		t.Errorf("published %v", fp.all())
	}
}

func TestHandleSnapshots(t *testing.T) {
	var refused error
	var seen []string
	fn := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		seen = append(seen, string(ex.Snapshot))
		if err := ex.Emit.Snapshot(ctx, json.RawMessage(`{"a": 1}`)); err != nil {
			return err
		}
		if err := ex.Emit.UpdateSnapshot(ctx, json.RawMessage(`{"b":2}`)); err != nil {
			return err
		}
		refused = ex.Emit.UpdateSnapshot(ctx, json.RawMessage(`{"$set":{"c":3}}`))
		return nil
	})
	w, fp := newTestWorker(t, testEnv(), stepData{Snapshot: json.RawMessage(`{"lastModifiedDate":123456789}`)}, fn)
	w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive)
	w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive)
	if refused == nil {
		t.Error("$set accepted")
	}
	if seen[0] != `{"lastModifiedDate":123456789}` || seen[1] != `{"a":1,"b":2}` {
		t.Errorf("snapshots seen %q", seen)
	}
	out := fp.byKey("P:routing_key:snapshot")
	if len(out) != 4 {
		t.Fatalf("%d snapshot messages", len(out))
	}
	if string(out[0].msg.Body) != `{"a":1}` || out[0].msg.Headers["snapshotEvent"] != "snapshot" ||
		string(out[1].msg.Body) != `{"b":2}` || out[1].msg.Headers["snapshotEvent"] != "updateSnapshot" {
		t.Errorf("snapshot messages %+v", out[:2])
	}
	if _, ok := out[0].msg.Headers["protocolVersion"]; ok {
		t.Error("snapshot carries protocolVersion")
	}
}

func TestHandleUpdateKeys(t *testing.T) {
	var mu sync.Mutex
	var got []string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		user, pw, _ := r.BasicAuth()
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+user+":"+pw+" "+string(b))
		mu.Unlock()
		rw.WriteHeader(status)
	}))
	defer srv.Close()
	env := testEnv()
	env["ELASTICIO_API_URI"] = srv.URL
	env["ELASTICIO_API_REQUEST_RETRY_DELAY"] = "1"
	var cfgs []string
	fn := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		b, _ := json.Marshal(ex.Cfg)
		cfgs = append(cfgs, string(b))
		return ex.Emit.UpdateKeys(ctx, json.RawMessage(`{"access_token":"new-token-123"}`))
	})
	w, fp := newTestWorker(t, env, stepData{Config: map[string]any{"_account": "acc1", "access_token": "old-token-000"}}, fn)
	if out := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive); out != outcomeAck {
		t.Errorf("outcome %v", out)
	}
	w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive)
	if len(got) < 1 || got[0] != `PUT /v1/accounts/acc1 test@test.com:5559edd {"keys":{"access_token":"new-token-123"}}` {
		t.Errorf("requests %q", got)
	}
	if !strings.Contains(cfgs[1], "new-token-123") {
		t.Errorf("cfg not refreshed: %s", cfgs[1])
	}
	status = http.StatusInternalServerError
	if out := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive); out != outcomeReject {
		t.Errorf("failed updateKeys: outcome %v, want reject", out)
	}
	errs := fp.byKey("P:routing_key:error")
	if len(errs) != 1 {
		t.Fatalf("%d error events", len(errs))
	}
	if e, _ := decodeError(t, w, errs[0]); strings.Contains(e["message"].(string), "new-token") {
		t.Errorf("secret in error: %v", e)
	}
}

func TestEmitAfterReturnIsRefused(t *testing.T) {
	var late component.Emitter
	w, fp := newTestWorker(t, testEnv(), stepData{}, component.FunctionFunc(func(_ context.Context, ex *component.Exec) error {
		late = ex.Emit
		return nil
	}))
	w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive)
	if err := late.Data(context.Background(), &component.Message{}); !errors.Is(err, errEnded) {
		t.Errorf("late emit: %v", err)
	}
	if len(fp.all()) != 0 {
		t.Error("late emit published")
	}
}

func TestPublishRetriesNacksWithRetryHeader(t *testing.T) {
	env := testEnv()
	env["ELASTICIO_AMQP_PUBLISH_RETRY_DELAY"] = "1"
	w, fp := newTestWorker(t, env, stepData{}, emitData(`{}`, nil))
	fp.nacks = 2
	if got := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive); got != outcomeAck {
		t.Fatalf("outcome %v", got)
	}
	out := fp.all()
	if fp.tries != 3 || len(out) != 1 || out[0].msg.Headers["retry"] != int64(2) {
		t.Errorf("tries %d, published %v", fp.tries, out)
	}
	env["ELASTICIO_AMQP_PUBLISH_RETRY_ATTEMPTS"] = "2"
	w, fp = newTestWorker(t, env, stepData{}, emitData(`{}`, nil))
	fp.nacks = 100
	if got := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive); got != outcomeReject {
		t.Errorf("outcome %v, want reject after the attempts", got)
	}
}

func TestHandleLeavesInputWhenCutShort(t *testing.T) {
	w, fp := newTestWorker(t, testEnv(), stepData{}, emitData(`{}`, nil))
	fp.nacks = 1 << 30
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if got := w.handle(ctx, inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive); got != outcomeLeave {
		t.Errorf("outcome %v, want leave", got)
	}
}

// TestHandleAbandonsPublishesOfALostInput: once the input's channel is
// gone, a publish that failed is not retried: the input is left for its
// redelivered copy, and nothing more is published for it.
func TestHandleAbandonsPublishesOfALostInput(t *testing.T) {
	env := testEnv()
	env["ELASTICIO_AMQP_PUBLISH_RETRY_DELAY"] = "1"
	w, fp := newTestWorker(t, env, stepData{}, emitData(`{}`, nil))
	fp.nacks = 1
	lost := false
	live := func() bool { return !lost }
	fp.onPublish = func() { lost = true } // the channel closes with the first attempt
	if got := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), live); got != outcomeLeave {
		t.Errorf("outcome %v, want leave", got)
	}
	if fp.tries != 1 || len(fp.all()) != 0 {
		t.Errorf("tries %d, published %d", fp.tries, len(fp.all()))
	}
}

func TestPublishableRefusesWhatNoRetryCanSend(t *testing.T) {
	ok := amqp.Publishing{Headers: amqp.Table{"messageId": "m", "n": int64(1)}, Body: []byte("x")}
	if err := publishable("key", ok, 131072); err != nil {
		t.Fatalf("ordinary message refused: %v", err)
	}
	long := strings.Repeat("r", 256)
	for name, c := range map[string]struct {
		key string
		msg amqp.Publishing
	}{
		"routing key over 255 bytes": {long, ok},
		"header name over 255 bytes": {"key", amqp.Publishing{Headers: amqp.Table{long: "v"}}},
		"header of no AMQP type":     {"key", amqp.Publishing{Headers: amqp.Table{"f": struct{}{}}}},
		"property over 255 bytes":    {"key", amqp.Publishing{MessageId: long}},
		"headers over the frame":     {"key", amqp.Publishing{Headers: amqp.Table{"big": strings.Repeat("x", 131072)}}},
	} {
		if err := publishable(c.key, c.msg, 131072); !errors.Is(err, errUnpublishable) {
			t.Errorf("%s: %v, want errUnpublishable", name, err)
		}
	}
}

// TestHandleUnpublishableDataBecomesAnError: a data event that cannot be
// published is replaced by an error event that says why, at once.
func TestHandleUnpublishableDataBecomesAnError(t *testing.T) {
	w, fp := newTestWorker(t, testEnv(), stepData{}, emitData(`{}`, map[string]any{"x-eio-routing-key": strings.Repeat("k", 300)}))
	if got := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), nil, 1), alwaysLive); got != outcomeReject {
		t.Fatalf("outcome %v, want reject", got)
	}
	errs := fp.byKey(testEnv()["ELASTICIO_ERROR_ROUTING_KEY"])
	if fp.tries != 1 || len(errs) != 1 {
		t.Fatalf("tries %d, error events %d", fp.tries, len(errs))
	}
	if e, _ := decodeError(t, w, errs[0]); !strings.Contains(e["message"].(string), "routing key is 300 bytes") {
		t.Errorf("error %v", e)
	}
}

func TestBackoffAndReboundExpiration(t *testing.T) {
	if got := backoff(100*time.Millisecond, time.Second, 1); got != 200*time.Millisecond {
		t.Errorf("backoff 1 = %v", got)
	}
	if got := backoff(100*time.Millisecond, time.Second, 10); got != time.Second {
		t.Errorf("backoff 10 = %v", got)
	}
	if got := reboundExpiration(15*time.Second, 3); got != time.Minute {
		t.Errorf("expiration 3 = %v", got)
	}
}

func TestProtocolVersionOf(t *testing.T) {
	for _, c := range []struct {
		v    any
		want int
	}{{nil, 1}, {int8(2), 2}, {uint8(2), 2}, {int16(2), 2}, {int32(2), 2}, {int64(2), 2}, {float32(2), 2}, {float64(2.0), 2},
		{"2", 2}, {"1", 1}, {"junk", 1}, {int8(0), 1}, {true, 1},
		{"10000000000000000000", 2}, {uint64(1 << 63), 2}, {math.NaN(), 1}, {"NaN", 1}, {"-1e30", 1}} {
		if got := protocolVersionOf(amqp.Table{"protocolVersion": c.v}); got != c.want {
			t.Errorf("%#v → %d, want %d", c.v, got, c.want)
		}
	}
}

// A huge or odd reboundIteration header must not wrap around to a small
// iteration (which would rebound forever).
func TestReboundIterationOf(t *testing.T) {
	for _, c := range []struct {
		v    any
		want int
	}{{nil, 1}, {"3", 1}, {int8(1), 2}, {int64(19), 20}, {uint64(1 << 63), maxReboundIteration + 1},
		{float64(1e30), maxReboundIteration + 1}, {math.NaN(), 1}, {int32(-5), 1}} {
		if got := reboundIterationOf(amqp.Table{"reboundIteration": c.v}); got != c.want {
			t.Errorf("%#v → %d, want %d", c.v, got, c.want)
		}
	}
}

func TestHandlePassesConfigSnapshotAndFlowVariables(t *testing.T) {
	var got *component.Exec
	fn := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		got = ex
		return nil
	})
	step := stepData{
		Config:    map[string]any{"apiKey": "secret"},
		Snapshot:  json.RawMessage(`{"lastModifiedDate":123456789}`),
		Variables: json.RawMessage(`{"region":"eu"}`),
	}
	w, _ := newTestWorker(t, testEnv(), step, fn)
	w.handle(context.Background(), inputDelivery(t, w, defaultInput(), inputHeaders(), 1), alwaysLive)
	if got == nil {
		t.Fatal("function not called")
	}
	if got.Cfg.String("apiKey") != "secret" || string(got.Snapshot) != `{"lastModifiedDate":123456789}` || string(got.Vars) != `{"region":"eu"}` {
		t.Fatalf("cfg %v snapshot %s vars %s", got.Cfg, got.Snapshot, got.Vars)
	}
}

// TestDecodeTakesAtMostThreeTimesTheInput: decrypting in place and parsing
// the envelope once allocate at most three times the input's size.
func TestDecodeTakesAtMostThreeTimesTheInput(t *testing.T) {
	w, _ := newTestWorker(t, testEnv(), stepData{}, emitData(`{}`, nil))
	for _, version := range []int{1, 2} {
		input := map[string]any{"headers": map[string]any{}, "body": map[string]any{"padding": strings.Repeat("x", 4<<20)}}
		d := inputDelivery(t, w, input, nil, version)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		msg, err := w.decode(d, version)
		runtime.ReadMemStats(&after)
		if err != nil || len(msg.Body) < 4<<20 {
			t.Fatalf("v%d: %v", version, err)
		}
		took := after.TotalAlloc - before.TotalAlloc
		t.Logf("v%d: %d bytes decoded with %.2fx their size allocated", version, len(d.Body), float64(took)/float64(len(d.Body)))
		if took > 3*uint64(len(d.Body)) {
			t.Errorf("v%d: decoding %d bytes allocated %d (%.1fx)", version, len(d.Body), took, float64(took)/float64(len(d.Body)))
		}
	}
}

// TestHandleRefusesInputsOverTheLimit: a larger input is rejected before it
// is decrypted, with an error event that carries no errorInput.
func TestHandleRefusesInputsOverTheLimit(t *testing.T) {
	env := testEnv()
	env["ELASTICIO_INCOMING_MESSAGE_SIZE_LIMIT"] = "1000"
	called := false
	fn := component.FunctionFunc(func(context.Context, *component.Exec) error { called = true; return nil })
	w, fp := newTestWorker(t, env, stepData{}, fn)
	big := map[string]any{"body": map[string]any{"padding": strings.Repeat("x", 2000)}}
	if got := w.handle(context.Background(), inputDelivery(t, w, big, inputHeaders(), 1), alwaysLive); got != outcomeReject {
		t.Fatalf("outcome %v, want reject", got)
	}
	errs := fp.byKey(env["ELASTICIO_ERROR_ROUTING_KEY"])
	if called || len(errs) != 1 {
		t.Fatalf("function called %v, %d error events", called, len(errs))
	}
	e, input := decodeError(t, w, errs[0])
	if !strings.Contains(e["message"].(string), "exceeds limit of 1000") || input != nil {
		t.Errorf("error %v, errorInput %v", e, input)
	}
	if got := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), inputHeaders(), 1), alwaysLive); got != outcomeAck || !called {
		t.Errorf("a small input: outcome %v, called %v", got, called)
	}
}
