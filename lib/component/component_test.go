package component

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestMessageRoundTripKeepsUnknownFields(t *testing.T) {
	in := `{"id":"m1","headers":{"a":"b"},"body":{"x":1},"passthrough":{"step_1":{"body":{}}},"url":"/hook","method":"POST"}`
	var m Message
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != "m1" || m.Headers["a"] != "b" || string(m.Extra["url"]) != `"/hook"` {
		t.Fatalf("decoded %+v", m)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"body":{"x":1},"headers":{"a":"b"},"id":"m1","method":"POST","passthrough":{"step_1":{"body":{}}},"url":"/hook"}`
	if string(out) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", out, want)
	}
}

func TestMessageKeepsAmpersandsUnescaped(t *testing.T) {
	m := Message{Body: json.RawMessage(`{"links":{"next":"http://h/p?a=1&b=<2>"}}`)}
	out, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"body":{"links":{"next":"http://h/p?a=1&b=<2>"}},"headers":{}}`; string(out) != want {
		t.Fatalf("got %s, want %s", out, want)
	}
}

func TestMessageRejectsNonObjects(t *testing.T) {
	for _, in := range []string{`null`, `[1]`, `"x"`, `{"headers":"nope"}`} {
		var m Message
		if err := json.Unmarshal([]byte(in), &m); err == nil {
			t.Errorf("%s: want an error", in)
		}
	}
}

func TestEmptyMessageGetsDefaults(t *testing.T) {
	var m Message
	if err := json.Unmarshal([]byte(`{}`), &m); err != nil {
		t.Fatal(err)
	}
	if m.Headers == nil {
		t.Fatal("headers must default to {}")
	}
	out, _ := json.Marshal(m)
	if string(out) != `{"body":{},"headers":{}}` {
		t.Fatalf("got %s", out)
	}
	obj, err := m.BodyObject()
	if err != nil || len(obj) != 0 {
		t.Fatalf("empty body: %v %v", obj, err)
	}
	m.Body = json.RawMessage(`[1]`)
	if _, err := m.BodyObject(); err == nil {
		t.Fatal("an array body must be refused")
	}
}

func TestErrorPayload(t *testing.T) {
	p := ErrorPayload(fmt.Errorf("calling api: %w", &InputError{Field: "id", Reason: "is required"}))
	if p["name"] != "InvalidInput" || p["field"] != "id" || p["message"] != "calling api: invalid input: id: is required" {
		t.Fatalf("got %v", p)
	}
	p = ErrorPayload(errors.New("plain"))
	if p["name"] != "Error" || p["message"] != "plain" {
		t.Fatalf("got %v", p)
	}
	if !IsRebound(fmt.Errorf("x: %w", Rebound(errors.New("503")))) || IsRebound(errors.New("x")) || Rebound(nil) != nil {
		t.Fatal("rebound classification")
	}
}

func TestSnapshotDeltaAndMerge(t *testing.T) {
	d, err := SnapshotDelta(json.RawMessage(`{"b":3,"c":4}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := MergeSnapshot(json.RawMessage(`{"a":1,"b":2}`), d)
	if err != nil || string(got) != `{"a":1,"b":3,"c":4}` {
		t.Fatalf("merged %s %v", got, err)
	}
	if got, _ := MergeSnapshot(json.RawMessage(`[1]`), d); string(got) != `{"b":3,"c":4}` {
		t.Fatalf("a non-object snapshot counts as {}: %s", got)
	}
	for _, bad := range []string{`[1]`, `null`, `{"$set":{"x":1}}`} {
		if _, err := SnapshotDelta(json.RawMessage(bad)); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}
