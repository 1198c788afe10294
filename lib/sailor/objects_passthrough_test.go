package sailor

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
)

// TestLightweightOutputEmptiesResolvedPassthrough: a passthrough entry that
// arrived as a reference was resolved for the function; when the output goes
// to object storage, the official sailor (2.7.8, sailor.js onData) sends that
// entry as {} with its object id again, without uploading it twice. Its body
// must not travel inline beside the reference.
func TestLightweightOutputEmptiesResolvedPassthrough(t *testing.T) {
	big := `{"data":"` + strings.Repeat("x", 200) + `"}`
	emit := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		return ex.Emit.Data(ctx, &component.Message{ID: "out-1", Body: json.RawMessage(big)})
	})
	w, fp, store := objectWorker(t, map[string]string{"ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE": "true",
		"ELASTICIO_OBJECT_STORAGE_SIZE_THRESHOLD": "100"}, stepData{IsPassthrough: true}, emit)
	carried := `{"carried":"` + strings.Repeat("y", 150) + `"}`
	ref := store.Put(w.cipher.Encrypt([]byte(carried)))
	in := map[string]any{"headers": map[string]any{}, "body": map[string]any{"a": 1},
		"passthrough": map[string]any{"step_0": map[string]any{"headers": map[string]any{objectHeader: ref}, "body": map[string]any{}}}}
	if out := w.handle(context.Background(), inputDelivery(t, w, in, inputHeaders(), 1), alwaysLive); out != outcomeAck {
		t.Fatalf("outcome %v", out)
	}
	msg := decodeData(t, w, fp.all()[0])
	entry := msg["passthrough"].(map[string]any)["step_0"].(map[string]any)
	body, _ := json.Marshal(entry["body"])
	if id := entry["headers"].(map[string]any)[objectHeader]; id != ref || string(body) != "{}" {
		t.Errorf("passthrough.step_0 is body %s with object %v; want {} with object %s", body, id, ref)
	}
	if _, puts := store.Counts(); puts != 1 {
		t.Errorf("%d uploads, want 1 (the body; the carried entry has its object)", puts)
	}
}
