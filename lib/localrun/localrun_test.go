package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
)

func TestReadInputsBodiesAndEnvelopes(t *testing.T) {
	in := `{"id":"p1"} {"body":{"x":1},"headers":{"a":"b"}} {"body":{"y":2},"filter":{}}`
	msgs, err := ReadInputs(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("got %d messages, want 3", len(msgs))
	}
	if string(msgs[0].Body) != `{"id":"p1"}` {
		t.Errorf("plain object must become the body, got %s", msgs[0].Body)
	}
	if string(msgs[1].Body) != `{"x":1}` || msgs[1].Headers["a"] != "b" {
		t.Errorf("envelope not decoded: %+v", msgs[1])
	}
	if !strings.Contains(string(msgs[2].Body), `"filter"`) {
		t.Errorf("an object with non-envelope keys is a body, got %s", msgs[2].Body)
	}
}

func TestReadInputsErrorsNameTheMessage(t *testing.T) {
	_, err := ReadInputs(strings.NewReader(`{"a":1} [1,2]`))
	if err == nil || !strings.Contains(err.Error(), "input message 2") {
		t.Fatalf("want an error naming message 2, got %v", err)
	}
	_, err = ReadInputs(strings.NewReader(`{"a":`))
	if err == nil || !strings.Contains(err.Error(), "input message 1") {
		t.Fatalf("want an error naming message 1, got %v", err)
	}
}

func TestRunMapsResultsToEvents(t *testing.T) {
	fns := map[string]component.Function{
		"echo": component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
			return ex.Emit.Data(ctx, &component.Message{Body: ex.Msg.Body})
		}),
		"fail": component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
			return &component.InputError{Field: "filter.patient", Reason: "is required"}
		}),
		"later": component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
			return component.Rebound(errors.New("api answered 503"))
		}),
		"boom": component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
			panic("kaputt")
		}),
		"count": component.FunctionFunc(func(ctx context.Context, ex *component.Exec) error {
			var s struct{ N int }
			_ = json.Unmarshal(ex.Snapshot, &s)
			b, _ := json.Marshal(map[string]int{"N": s.N + 1})
			return ex.Emit.Snapshot(ctx, b)
		}),
	}
	var out bytes.Buffer
	var werr error
	r := &Runner{Functions: fns, OnEvent: JSONLines(&out, &werr)}
	msg := func() []*component.Message {
		return []*component.Message{{Body: json.RawMessage(`{"k":"v"}`)}}
	}
	ctx := context.Background()

	res, err := r.Run(ctx, "echo", nil, nil, msg())
	if err != nil || res.Counts["data"] != 1 || res.Errors() != 0 {
		t.Fatalf("echo: %v %+v", err, res)
	}
	res, _ = r.Run(ctx, "fail", nil, nil, msg())
	if res.Errors() != 1 {
		t.Fatalf("fail: want one error event, got %+v", res)
	}
	res, _ = r.Run(ctx, "later", nil, nil, msg())
	if res.Counts["rebound"] != 1 || res.Errors() != 0 {
		t.Fatalf("later: want one rebound, got %+v", res)
	}
	res, _ = r.Run(ctx, "boom", nil, nil, msg())
	if res.Errors() != 1 {
		t.Fatalf("boom: a panic must become an error event, got %+v", res)
	}
	res, _ = r.Run(ctx, "count", nil, json.RawMessage(`{"N":4}`), append(msg(), msg()...))
	if string(res.Snapshot) != `{"N":6}` {
		t.Fatalf("snapshot must carry across messages, got %s", res.Snapshot)
	}
	if _, err := r.Run(ctx, "nope", nil, nil, msg()); err == nil {
		t.Fatal("unknown function must fail")
	}
	if werr != nil {
		t.Fatal(werr)
	}

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var first, second Event
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Event != "data" {
		t.Fatalf("first line %q", lines[0])
	}
	_ = json.Unmarshal([]byte(lines[1]), &second)
	p := second.Payload.(map[string]any)
	if second.Event != "error" || p["name"] != "InvalidInput" || p["field"] != "filter.patient" {
		t.Fatalf("error line %q", lines[1])
	}
	if !strings.Contains(out.String(), `"message":"function panicked: kaputt"`) {
		t.Fatalf("panic not reported: %s", out.String())
	}
}

func TestUpdateSnapshotMergesAndRefusesSet(t *testing.T) {
	e := &emitter{counts: map[string]int{}, snapshot: json.RawMessage(`{"a":1,"b":2}`)}
	ctx := context.Background()
	if err := e.UpdateSnapshot(ctx, json.RawMessage(`{"b":3,"c":4}`)); err != nil {
		t.Fatal(err)
	}
	if got := string(e.currentSnapshot()); got != `{"a":1,"b":3,"c":4}` {
		t.Fatalf("merged snapshot %s", got)
	}
	if err := e.UpdateSnapshot(ctx, json.RawMessage(`{"$set":{"x":1}}`)); err == nil {
		t.Fatal("$set must be refused")
	}
}
