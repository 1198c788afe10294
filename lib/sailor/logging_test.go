package sailor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fitbitplus"
	"github.com/fitbitplus/connector/lib/secrets"
)

func TestLoggerBunyanFields(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, LogOptions{Hostname: "h1", PID: 42, Context: map[string]string{"ELASTICIO_FLOW_ID": "f1"}, Tag: "f1", Level: slog.LevelDebug})
	log.With("threadId", "t1").Info("hello", "n", 3, "err", errors.New("bad"))
	log.With("name", "component").Warn("from component")
	log.Log(context.Background(), LevelTrace, "hidden")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"v": float64(0), "level": float64(30), "name": "sailor", "hostname": "h1", "pid": float64(42),
		"msg": "hello", "ELASTICIO_FLOW_ID": "f1", "tag": "f1", "threadId": "t1", "n": float64(3)}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %#v, want %#v", k, rec[k], v)
		}
	}
	if e, _ := rec["err"].(map[string]any); e["message"] != "bad" {
		t.Errorf("err = %v", rec["err"])
	}
	if ts, _ := rec["time"].(string); len(ts) != len("2006-01-02T15:04:05.000Z") {
		t.Errorf("time = %q", ts)
	}
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil || rec["name"] != "component" || rec["level"] != float64(40) {
		t.Errorf("component record %v %v", rec, err)
	}
}

func TestLoggerRedactsSecrets(t *testing.T) {
	var buf bytes.Buffer
	r := secrets.New("testCryptoPassword", `quo"te<secret>`)
	r.AddConfig(map[string]any{"oauth": map[string]any{"access_token": "tok-abcdef"}, "name": "plainvalue"})
	log := NewLogger(&buf, LogOptions{Secrets: r})
	log.Info("pw testCryptoPassword", "token", "Bearer tok-abcdef", "err", errors.New("tok-abcdef leaked"), "name2", "plainvalue",
		"any", map[string]any{"deep": []string{`a quo"te<secret> b`}})
	out := buf.String()
	if strings.Contains(out, "testCryptoPassword") || strings.Contains(out, "tok-abcdef") || strings.Contains(out, `te<secret>`) ||
		strings.Contains(out, `te\u003csecret`) || !strings.Contains(out, "plainvalue") {
		t.Errorf("log line %s", out)
	}
}

func TestParseLogLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"": slog.LevelInfo, "debug": slog.LevelDebug, "TRACE": LevelTrace, "60": LevelFatal, "warn": slog.LevelWarn} {
		if got, err := parseLogLevel(in); err != nil || got != want {
			t.Errorf("%q → %v %v", in, got, err)
		}
	}
	if _, err := parseLogLevel("loud"); err == nil {
		t.Error("loud accepted")
	}
}

// Debug logging shows the shape of a message, never its values: bodies carry
// patient data.
func TestDebugLogShowsNoMessageValues(t *testing.T) {
	fn := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error { return nil })
	w, _ := newTestWorker(t, testEnv(), stepData{}, fn)
	var buf bytes.Buffer
	w.setLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	in := map[string]any{"body": map[string]any{"first_name": "Zoë", "birth_date": "1948-06-12"}}
	w.handle(context.Background(), inputDelivery(t, w, in, inputHeaders(), 1), alwaysLive)
	out := buf.String()
	if !strings.Contains(out, "processing message") || !strings.Contains(out, "first_name") {
		t.Fatalf("debug log lacks the message shape:\n%s", out)
	}
	for _, value := range []string{"Zoë", "1948-06-12"} {
		if strings.Contains(out, value) {
			t.Fatalf("debug log shows the patient value %q:\n%s", value, out)
		}
	}
}

// The lines of one message, through the worker's own stack (redaction, then
// bunyan): each carries the message's ids, the component's are named
// "component" (one name field, not two), and a secret in an id is redacted.
func TestMessageLogLines(t *testing.T) {
	fn := component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
		ex.Log.Info("from the component")
		return nil
	})
	w, _ := newTestWorker(t, testEnv(), stepData{}, fn)
	var buf bytes.Buffer
	w.setLogger(NewLogger(&buf, LogOptions{Hostname: "h1", Secrets: w.secrets}))
	h := inputHeaders()
	h["threadId"] = "thread-" + testEnv()["ELASTICIO_MESSAGE_CRYPTO_PASSWORD"]
	if got := w.handle(context.Background(), inputDelivery(t, w, defaultInput(), h, 1), alwaysLive); got != outcomeAck {
		t.Fatalf("outcome %v", got)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	names := map[string]string{}
	for _, line := range lines {
		if strings.Count(line, `"name":`) != 1 {
			t.Errorf("want one name field: %s", line)
		}
		if strings.Contains(line, testEnv()["ELASTICIO_MESSAGE_CRYPTO_PASSWORD"]) {
			t.Errorf("secret in a log line: %s", line)
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["messageId"] != h["messageId"] || rec["parentMessageId"] != h["parentMessageId"] || rec["threadId"] != "thread-"+secrets.Redacted {
			t.Errorf("ids of %s", line)
		}
		names[rec["msg"].(string)] = rec["name"].(string)
	}
	if names["from the component"] != "component" || names["message processed"] != "sailor" {
		t.Errorf("names by line: %v", names)
	}
}

// TestAPIErrorFreeTextOnlyAtDebug: an API error whose detail quotes patient
// data logs its status, codes, sources and req_id at info; the detail only at
// debug.
func TestAPIErrorFreeTextOnlyAtDebug(t *testing.T) {
	apiErr := fitbitplus.ParseAPIError(422, http.Header{"Content-Type": {"application/vnd.api+json"}},
		[]byte(`{"errors":[{"status":"422","code":"InvalidAttribute","title":"Zephyrine Quillsworth","detail":"born 1961-07-14","source":{"pointer":"/data/attributes/birth_date"}}],"meta":{"req_id":"req-77"}}`))
	fn := component.FunctionFunc(func(context.Context, *component.Exec) error { return apiErr })
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		w, _ := newTestWorker(t, testEnv(), stepData{}, fn)
		var buf bytes.Buffer
		w.setLogger(NewLogger(&buf, LogOptions{Level: level}))
		w.handle(context.Background(), inputDelivery(t, w, defaultInput(), inputHeaders(), 1), alwaysLive)
		out := buf.String()
		if !strings.Contains(out, "InvalidAttribute") || !strings.Contains(out, "req-77") || !strings.Contains(out, "/data/attributes/birth_date") {
			t.Errorf("%v: the codes are not logged:\n%s", level, out)
		}
		leaked := strings.Contains(out, "Zephyrine") || strings.Contains(out, "1961-07-14")
		if leaked != (level == slog.LevelDebug) {
			t.Errorf("%v: free text logged %v:\n%s", level, leaked, out)
		}
	}
}
