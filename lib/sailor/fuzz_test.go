package sailor

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
	amqp "github.com/rabbitmq/amqp091-go"
)

// protocolVersionHeader builds the protocolVersion header in one of the
// representations a broker may deliver: absent, every integer width, float,
// decimal, string, bytes, bool, nested table.
func protocolVersionHeader(kind uint8, n int64, s string) (any, bool) {
	switch kind % 13 {
	case 0:
		return nil, false
	case 1:
		return int8(n), true
	case 2:
		return uint8(n), true
	case 3:
		return int16(n), true
	case 4:
		return int32(n), true
	case 5:
		return n, true
	case 6:
		return float32(n) / 2, true
	case 7:
		return float64(n) / 3, true
	case 8:
		return amqp.Decimal{Scale: uint8(n), Value: int32(n)}, true
	case 9:
		return s, true
	case 10:
		return []byte(s), true
	case 11:
		return n%2 == 0, true
	default:
		return amqp.Table{"v": n}, true
	}
}

// FuzzDecodeMessage runs arbitrary input messages through the worker's whole
// per-message path (headers, protocol version, decryption, envelope
// decoding, the function, publishing): it must never panic nor leave a
// message unsettled, an input the platform would send (the right key, the
// header's encoding, a JSON envelope) must be processed and acked, and every
// other must be rejected without output.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"headers":{"stepId":"step_1"},"body":{"message":"Just do it!"}}`), true, uint8(0), int64(1), "")
	f.Add([]byte(`{"body":{"id":"5817a24d678a7c2cbf5df3ee"}}`), true, uint8(1), int64(2), "")
	f.Add([]byte(`{"body":{}}`), true, uint8(9), int64(0), "2")
	f.Add([]byte(`{"body":{}, "passthrough":{"step_0":{"body":{}}}}`), true, uint8(5), int64(1), "")
	f.Add([]byte(`{"body":{}}`), true, uint8(7), int64(6), "")
	f.Add([]byte(`{"body":{}}`), true, uint8(9), int64(0), " 2.0 ")
	f.Add([]byte(`null`), true, uint8(0), int64(0), "")
	f.Add([]byte(`[1,2]`), true, uint8(0), int64(0), "")
	f.Add([]byte(`{"headers":5}`), true, uint8(0), int64(0), "")
	f.Add([]byte("not base64 at all"), false, uint8(0), int64(0), "")
	f.Add([]byte("AAAAAAAAAAAAAAAAAAAAAA=="), false, uint8(0), int64(0), "")
	f.Add([]byte{}, false, uint8(1), int64(2), "")
	f.Add([]byte{0xff, 0, 1}, false, uint8(12), int64(-128), "x")

	env := testEnv()
	echo := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		return ex.Emit.Data(ctx, &component.Message{Headers: ex.Msg.Headers, Body: ex.Msg.Body})
	})
	w, fp := newTestWorker(f, env, stepData{}, echo)
	w.dataLimiter, w.errorLimiter = nil, nil
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, body []byte, encrypt bool, kind uint8, n int64, s string) {
		h := amqp.Table{"messageId": "fuzz-1", "threadId": "thread-1", "parentMessageId": "p-0", "stepId": "step_0"}
		if v, ok := protocolVersionHeader(kind, n, s); ok {
			h["protocolVersion"] = v
		}
		version := protocolVersionOf(h)
		if version < 1 {
			t.Fatalf("protocol version %d from %#v", version, h["protocolVersion"])
		}
		payload := body
		if encrypt {
			payload = w.cipher.EncryptMessage(body, version)
		}
		fp.mu.Lock()
		fp.out = fp.out[:0]
		fp.mu.Unlock()
		d := &amqp.Delivery{Headers: h, Body: payload}
		got := w.handle(ctx, d, alwaysLive)

		var msg component.Message
		valid := encrypt && json.Unmarshal(body, &msg) == nil
		out := fp.all()
		switch {
		case valid && got != outcomeAck:
			t.Fatalf("valid envelope %q (version %d) settled %v", body, version, got)
		case valid && len(out) != 1:
			t.Fatalf("valid envelope %q: %d outputs, want 1", body, len(out))
		case !valid && got != outcomeReject:
			t.Fatalf("invalid input %q (encrypted %v, version %d) settled %v", body, encrypt, version, got)
		case !valid && len(out) != 0:
			t.Fatalf("invalid input %q: %d outputs, want none", body, len(out))
		}
		if valid {
			if _, err := w.cipher.DecryptMessage(out[0].msg.Body, protocolVersionOf(out[0].msg.Headers)); err != nil {
				t.Fatalf("output does not decrypt: %v", err)
			}
		}
	})
}
