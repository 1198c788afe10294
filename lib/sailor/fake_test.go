package sailor

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
	amqp "github.com/rabbitmq/amqp091-go"
)

// published is one message the fake publisher received.
type published struct {
	key string
	msg amqp.Publishing
}

// fakePublisher confirms everything, after nacking the first nacks attempts.
type fakePublisher struct {
	mu        sync.Mutex
	nacks     int
	out       []published
	tries     int
	discard   bool   // keep nothing (benchmarks)
	onPublish func() // called with every attempt
}

func (f *fakePublisher) publishOnce(_ context.Context, key string, msg amqp.Publishing) error {
	if err := publishable(key, msg, 131072); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries++
	if f.onPublish != nil {
		f.onPublish()
	}
	if f.nacks > 0 {
		f.nacks--
		return errNacked
	}
	if !f.discard {
		f.out = append(f.out, published{key, msg})
	}
	return nil
}

// alwaysLive is the live function of an input whose channel never closes.
func alwaysLive() bool { return true }

func (f *fakePublisher) all() []published {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]published(nil), f.out...)
}

func (f *fakePublisher) byKey(key string) []published {
	var out []published
	for _, p := range f.all() {
		if p.key == key {
			out = append(out, p)
		}
	}
	return out
}

// newTestWorker builds a worker around fn with the fake publisher.
func newTestWorker(t testing.TB, env map[string]string, step stepData, fn component.Function) (*worker, *fakePublisher) {
	t.Helper()
	s, err := LoadSettings(getenvOf(env))
	if err != nil {
		t.Fatal(err)
	}
	w, err := newWorker(s, Deps{
		Functions: map[string]component.Function{s.Function: fn},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hostname:  "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if step.Config == nil {
		step.Config = map[string]any{"apiKey": "secret"}
	}
	w.state = newStepState(step)
	w.fn = fn
	fp := &fakePublisher{}
	w.pub = fp
	return w, fp
}

// inputDelivery encrypts an envelope as the platform would.
func inputDelivery(t testing.TB, w *worker, envelope any, headers amqp.Table, version int) *amqp.Delivery {
	t.Helper()
	plain, err := json.Marshal(envelope)
	if err != nil {
		t.Fatal(err)
	}
	if headers == nil {
		headers = amqp.Table{}
	}
	if version >= 2 {
		headers["protocolVersion"] = int8(version)
	}
	return &amqp.Delivery{
		Headers: headers, Body: w.cipher.EncryptMessage(plain, version),
		ContentType: "application/json", ContentEncoding: "utf8", DeliveryMode: 1,
	}
}

func defaultInput() map[string]any {
	return map[string]any{"headers": map[string]any{"stepId": "step_1"}, "body": map[string]any{"message": "Just do it!"}}
}

func inputHeaders() amqp.Table {
	return amqp.Table{
		"execId": "exec1", "taskId": "task1", "workspaceId": "ws1", "userId": "user1",
		"threadId": "thread-1", "stepId": "step_0", "messageId": "in-msg-1", "parentMessageId": "parent-0",
	}
}

// decodeData decrypts a published data message.
func decodeData(t testing.TB, w *worker, p published) map[string]any {
	t.Helper()
	plain, err := w.cipher.DecryptMessage(p.msg.Body, protocolVersionOf(p.msg.Headers))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(plain, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// decodeError decrypts an error event's payload.
func decodeError(t testing.TB, w *worker, p published) (errObj map[string]any, input map[string]any) {
	t.Helper()
	var payload errorPayload
	if err := json.Unmarshal(p.msg.Body, &payload); err != nil {
		t.Fatalf("error payload %q: %v", p.msg.Body, err)
	}
	plain, err := w.cipher.DecryptMessage([]byte(payload.Error), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(plain, &errObj); err != nil {
		t.Fatal(err)
	}
	if payload.ErrorInput != "" {
		plain, err := w.cipher.DecryptMessage([]byte(payload.ErrorInput), 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(plain, &input); err != nil {
			t.Fatal(err)
		}
	}
	return errObj, input
}
