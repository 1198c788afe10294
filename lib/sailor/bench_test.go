package sailor

import (
	"context"
	"io"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
)

// BenchmarkHandle measures the per-message path without the network:
// decrypt and decode the input, dispatch to the function, encode, encrypt
// and "publish" one data event (in-memory publisher).
func BenchmarkHandle(b *testing.B) { benchmarkHandle(b, false) }

// BenchmarkHandleBunyan is BenchmarkHandle with the logger of the real
// worker (redaction and bunyan JSON lines, written to io.Discard).
func BenchmarkHandleBunyan(b *testing.B) { benchmarkHandle(b, true) }

func benchmarkHandle(b *testing.B, bunyan bool) {
	env := testEnv()
	echo := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		return ex.Emit.Data(ctx, &component.Message{Headers: map[string]any{"x": "1"}, Body: ex.Msg.Body})
	})
	w, fp := newTestWorker(b, env, stepData{}, echo)
	w.dataLimiter = nil // the limiter would measure itself (10 per 100 ms)
	fp.discard = true
	if bunyan {
		o := w.settings.LogOptions("bench")
		o.Secrets = w.secrets
		w.setLogger(NewLogger(io.Discard, o))
	}
	input := map[string]any{"headers": map[string]any{"stepId": "step_1"}, "body": map[string]any{
		"data": map[string]any{"type": "patient", "id": "5817a24d678a7c2cbf5df3ee", "attributes": map[string]any{"first_name": "Zoë", "last_name": "Ørsted"}}}}
	d := inputDelivery(b, w, input, inputHeaders(), 1)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if w.handle(ctx, d, alwaysLive) != outcomeAck {
			b.Fatal("not acked")
		}
	}
}
