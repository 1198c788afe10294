package sailor

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/sandbox"
	amqp "github.com/rabbitmq/amqp091-go"
)

// objectWorker is a test worker with the stand-in object storage.
func objectWorker(t *testing.T, extra map[string]string, step stepData, fn component.Function) (*worker, *fakePublisher, *sandbox.ObjectStore) {
	t.Helper()
	store := sandbox.NewObjectStore("obj-token", nil)
	srv := httptest.NewServer(store)
	t.Cleanup(srv.Close)
	env := testEnv()
	env["ELASTICIO_OBJECT_STORAGE_URI"] = srv.URL
	env["ELASTICIO_OBJECT_STORAGE_TOKEN"] = "obj-token"
	for k, v := range extra {
		env[k] = v
	}
	w, fp := newTestWorker(t, env, step, fn)
	return w, fp, store
}

// seenBody records the body the function got.
func seenBody(got *string) component.FunctionFunc {
	return func(ctx context.Context, ex *component.Exec) error {
		*got = string(ex.Msg.Body)
		return ex.Emit.Data(ctx, &component.Message{Body: json.RawMessage(`{"ok":true}`)})
	}
}

func TestLightweightInputIsResolved(t *testing.T) {
	var got string
	w, fp, store := objectWorker(t, nil, stepData{}, seenBody(&got))
	id := store.Put(w.cipher.Encrypt([]byte(`{"filter":{"patient":"p1"}}`)))
	ptID := store.Put(w.cipher.Encrypt([]byte(`{"from":"step_0"}`)))
	in := map[string]any{"headers": map[string]any{objectHeader: id}, "body": map[string]any{},
		"passthrough": map[string]any{"step_0": map[string]any{"headers": map[string]any{objectHeader: ptID}, "body": map[string]any{}}}}
	var execMsg *component.Message
	w.fn = component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		execMsg = ex.Msg
		return seenBody(&got)(ctx, ex)
	})
	if out := w.handle(context.Background(), inputDelivery(t, w, in, inputHeaders(), 1), alwaysLive); out != outcomeAck {
		t.Fatalf("outcome %v", out)
	}
	if got != `{"filter":{"patient":"p1"}}` || execMsg.Headers[objectHeader] != id {
		t.Errorf("the function got body %s, headers %v", got, execMsg.Headers)
	}
	if !strings.Contains(string(execMsg.Passthrough["step_0"]), `"from":"step_0"`) {
		t.Errorf("passthrough entry not resolved: %s", execMsg.Passthrough["step_0"])
	}
	if len(fp.all()) != 1 {
		t.Errorf("%d events", len(fp.all()))
	}
}

func TestLightweightInputFailures(t *testing.T) {
	for _, c := range []struct {
		name   string
		fail   []int
		config bool
		gets   int // requests the store saw (injected failures are not counted)
	}{
		{"server errors, retried twice", []int{503, 503, 503}, true, 0},
		{"not found, at once", nil, true, 1},
		{"no object storage configured", nil, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			called := false
			fn := component.FunctionFunc(func(context.Context, *component.Exec) error { called = true; return nil })
			w, fp, store := objectWorker(t, nil, stepData{}, fn)
			if !c.config {
				w.objects = nil
			}
			store.FailNext(c.fail...)
			in := map[string]any{"headers": map[string]any{objectHeader: "obj-1"}, "body": map[string]any{}}
			if out := w.handle(context.Background(), inputDelivery(t, w, in, inputHeaders(), 1), alwaysLive); out != outcomeReject {
				t.Fatalf("outcome %v, want reject", out)
			}
			errs := fp.byKey(testEnv()["ELASTICIO_ERROR_ROUTING_KEY"])
			if called || len(errs) != 1 {
				t.Fatalf("function called %v; %d error events", called, len(errs))
			}
			if e, _ := decodeError(t, w, errs[0]); !strings.HasPrefix(e["message"].(string), "Failed to get message body with id=obj-1") {
				t.Errorf("error %v", e["message"])
			}
			if gets, _ := store.Counts(); gets != c.gets {
				t.Errorf("%d GETs served, want %d", gets, c.gets)
			}
		})
	}
}

func TestLightweightOutput(t *testing.T) {
	big := `{"data":"` + strings.Repeat("x", 200) + `"}`
	emit := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		return ex.Emit.Data(ctx, &component.Message{ID: "out-1", Body: json.RawMessage(big)})
	})
	in := map[string]any{"headers": map[string]any{}, "body": map[string]any{"a": 1},
		"passthrough": map[string]any{"step_0": map[string]any{"headers": map[string]any{}, "body": map[string]any{"carried": strings.Repeat("y", 50)}}}}
	t.Run("above the threshold", func(t *testing.T) {
		w, fp, store := objectWorker(t, map[string]string{"ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE": "true",
			"ELASTICIO_OBJECT_STORAGE_SIZE_THRESHOLD": "100"}, stepData{IsPassthrough: true}, emit)
		if out := w.handle(context.Background(), inputDelivery(t, w, in, inputHeaders(), 1), alwaysLive); out != outcomeAck {
			t.Fatalf("outcome %v", out)
		}
		msg := decodeData(t, w, fp.all()[0])
		b, _ := json.Marshal(msg["body"])
		id, _ := msg["headers"].(map[string]any)[objectHeader].(string)
		if string(b) != "{}" || id == "" {
			t.Fatalf("body %s, object %q", b, id)
		}
		obj, ok := store.Get(id)
		plain, err := w.cipher.Decrypt(obj)
		if !ok || err != nil || string(plain) != big {
			t.Errorf("stored object %q (%v)", plain, err)
		}
		pt := msg["passthrough"].(map[string]any)
		self := pt["step_1"].(map[string]any)
		carried := pt["step_0"].(map[string]any)
		if self["headers"].(map[string]any)[objectHeader] != id || carried["headers"].(map[string]any)[objectHeader] == nil {
			t.Errorf("passthrough %v", pt)
		}
		if _, puts := store.Counts(); puts != 2 {
			t.Errorf("%d uploads, want the body and the carried entry", puts)
		}
	})
	t.Run("below the threshold", func(t *testing.T) {
		w, fp, store := objectWorker(t, map[string]string{"ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE": "true"}, stepData{IsPassthrough: true}, emit)
		w.handle(context.Background(), inputDelivery(t, w, in, inputHeaders(), 1), alwaysLive)
		msg := decodeData(t, w, fp.all()[0])
		if b, _ := json.Marshal(msg["body"]); string(b) != big {
			t.Errorf("body %s", b)
		}
		if _, puts := store.Counts(); puts != 0 {
			t.Errorf("%d uploads", puts)
		}
	})
	t.Run("upload failure", func(t *testing.T) {
		w, fp, store := objectWorker(t, map[string]string{"ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE": "true",
			"ELASTICIO_OBJECT_STORAGE_SIZE_THRESHOLD": "100"}, stepData{}, emit)
		store.FailNext(400)
		if out := w.handle(context.Background(), inputDelivery(t, w, in, inputHeaders(), 1), alwaysLive); out != outcomeReject {
			t.Fatalf("outcome %v, want reject", out)
		}
		e, _ := decodeError(t, w, fp.byKey(testEnv()["ELASTICIO_ERROR_ROUTING_KEY"])[0])
		if !strings.Contains(e["message"].(string), "Lightweight message/passthrough body upload error") {
			t.Errorf("error %v", e["message"])
		}
	})
	t.Run("inlined without lightweight output", func(t *testing.T) {
		w, fp, store := objectWorker(t, nil, stepData{IsPassthrough: true}, emit)
		w.deps.KeepObjectReferences = true // the input's reference reaches the output
		id := store.Put(w.cipher.Encrypt([]byte(`{"from":"object"}`)))
		ref := map[string]any{"headers": map[string]any{}, "body": map[string]any{},
			"passthrough": map[string]any{"step_0": map[string]any{"headers": map[string]any{objectHeader: id}, "body": map[string]any{}}}}
		w.handle(context.Background(), inputDelivery(t, w, ref, inputHeaders(), 1), alwaysLive)
		msg := decodeData(t, w, fp.all()[0])
		carried, _ := json.Marshal(msg["passthrough"].(map[string]any)["step_0"].(map[string]any)["body"])
		if string(carried) != `{"from":"object"}` {
			t.Errorf("carried body %s", carried)
		}
	})
}

func TestWatchdogEndsAStuckMessage(t *testing.T) {
	env := testEnv()
	env["ELASTICIO_MESSAGE_PROCESSING_TIMEOUT"] = "50"
	release := make(chan struct{})
	late := make(chan error, 1)
	stuck := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		<-release
		late <- ex.Emit.Data(context.Background(), &component.Message{Body: json.RawMessage(`{}`)})
		return nil
	})
	w, fp := newTestWorker(t, env, stepData{}, stuck)
	if out := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), inputHeaders(), 1), alwaysLive); out != outcomeReject {
		t.Fatalf("outcome %v, want reject", out)
	}
	errs := fp.byKey(env["ELASTICIO_ERROR_ROUTING_KEY"])
	if len(errs) != 1 {
		t.Fatalf("%d error events", len(errs))
	}
	if e, _ := decodeError(t, w, errs[0]); !strings.Contains(e["message"].(string), "timed out after 50ms") {
		t.Errorf("error %v", e["message"])
	}
	close(release)
	select {
	case err := <-late:
		if err == nil {
			t.Error("a late event was accepted")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the function never returned")
	}
	if n := len(fp.byKey(env["ELASTICIO_DATA_ROUTING_KEY"])); n != 0 {
		t.Errorf("%d late data events published", n)
	}
}

// TestErrorHandlerInput decodes an error event as the worker (and the
// official sailor's error publisher) builds it, for an error-handler step.
func TestErrorHandlerInput(t *testing.T) {
	env := testEnv()
	failing, fp := newTestWorker(t, env, stepData{}, component.FunctionFunc(func(context.Context, *component.Exec) error {
		return &component.InputError{Field: "id", Reason: "required"}
	}))
	for _, version := range []int{1, 2} {
		failing.handle(context.Background(), inputDelivery(t, failing, defaultInput(), inputHeaders(), version), alwaysLive)
	}
	events := fp.byKey(env["ELASTICIO_ERROR_ROUTING_KEY"])
	env["ELASTICIO_INPUT_FORMAT"] = "error"
	var bodies []string
	var heads []map[string]any
	handler, _ := newTestWorker(t, env, stepData{}, component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		bodies = append(bodies, string(ex.Msg.Body))
		heads = append(heads, ex.Msg.Headers)
		return nil
	}))
	for _, ev := range events {
		d := &amqp.Delivery{Headers: ev.msg.Headers, Body: ev.msg.Body}
		if out := handler.handle(context.Background(), d, alwaysLive); out != outcomeAck {
			t.Fatalf("outcome %v", out)
		}
	}
	want := `{"error":{"field":"id","message":"invalid input: id: required","name":"InvalidInput","stack":"Not Available"},` +
		`"errorInput":{"body":{"message":"Just do it!"},"headers":{"stepId":"step_1"}}}`
	if len(bodies) != 2 || bodies[0] != want || bodies[1] != want {
		t.Errorf("bodies %q\nwant %s", bodies, want)
	}
	if heads[0]["parentMessageId"] != inputHeaders()["messageId"] {
		t.Errorf("headers %v", heads[0])
	}
	garbage := &amqp.Delivery{Body: []byte(`{"error":"not ciphertext"}`)}
	if out := handler.handle(context.Background(), garbage, alwaysLive); out != outcomeReject {
		t.Errorf("garbage error input: %v", out)
	}
}

// TestObjectStorageRetriesServerErrorsTwice: two 5xx answers are retried;
// the third attempt gets the object.
func TestObjectStorageRetriesServerErrorsTwice(t *testing.T) {
	var got string
	w, _, store := objectWorker(t, nil, stepData{}, seenBody(&got))
	id := store.Put(w.cipher.Encrypt([]byte(`{"x":1}`)))
	store.FailNext(500, 502)
	in := map[string]any{"headers": map[string]any{objectHeader: id}, "body": map[string]any{}}
	if out := w.handle(context.Background(), inputDelivery(t, w, in, inputHeaders(), 1), alwaysLive); out != outcomeAck || got != `{"x":1}` {
		t.Errorf("outcome %v, body %s", out, got)
	}
}
