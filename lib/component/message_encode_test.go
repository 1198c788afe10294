package component

import (
	"encoding/json"
	"testing"
)

// TestMarshalJSONMatchesMapEncoding compares the field-by-field encoder with
// the map encoding through encoding/json it replaces, errors included.
func TestMarshalJSONMatchesMapEncoding(t *testing.T) {
	cases := []Message{
		{},
		{ID: "m1", Headers: map[string]any{"b": 1, "a": "x&y<z>", "n": nil, "raw": json.RawMessage(` [1, 2] `)}, Body: json.RawMessage(" {\n \"k\" : \"v & \u2028 w\" } ")},
		{Body: json.RawMessage(`"str"`), Attachments: json.RawMessage(`{"f": {"url": "http://x?a=1&b=2"}}`)},
		{Passthrough: map[string]json.RawMessage{"step_2": json.RawMessage(`{"body": {}}`), "step_1": nil}},
		{Passthrough: map[string]json.RawMessage{}},
		{Extra: map[string]json.RawMessage{"url": json.RawMessage(`"/hook"`), "method": json.RawMessage(` "POST" `), "id": json.RawMessage(`"extra"`), "body": json.RawMessage(`1`)}},
		{ID: "own", Extra: map[string]json.RawMessage{"id": json.RawMessage(`"extra"`), "attachments": json.RawMessage(`[]`), "passthrough": json.RawMessage(`null`)}},
		{ID: "bad\xffid\x01\"", Headers: map[string]any{"k\u2029": "v\n"}},
		{Body: json.RawMessage(`{"a":`)},                                   // invalid body
		{Body: json.RawMessage(`{}`), Attachments: json.RawMessage(`[1,`)}, // invalid attachments
		{Headers: map[string]any{"f": func() {}}},                          // unsupported header
		{Extra: map[string]json.RawMessage{"x": json.RawMessage{}}},        // empty raw
		{Passthrough: map[string]json.RawMessage{"s": json.RawMessage(`{]`)}},
	}
	for i, m := range cases {
		got, gotErr := m.MarshalJSON()
		want, wantErr := m.marshalMap()
		if string(got) != string(want) || errString(gotErr) != errString(wantErr) {
			t.Errorf("case %d: got %s (%v), want %s (%v)", i, got, gotErr, want, wantErr)
		}
		// AppendJSON into a used buffer keeps its prefix, on success and
		// on the fallback path alike.
		buf := append(make([]byte, 0, 256), "prefix"...)
		appended, appendErr := m.AppendJSON(buf)
		if errString(appendErr) != errString(wantErr) || (wantErr == nil && string(appended) != "prefix"+string(want)) {
			t.Errorf("case %d: AppendJSON = %s (%v), want prefix%s (%v)", i, appended, appendErr, want, wantErr)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func FuzzMarshalJSONMatchesMapEncoding(f *testing.F) {
	f.Add(`{"id":"x","headers":{"a":1},"body":{"k":[1,2]},"url":"/u","passthrough":{"s":{"body":{}}}}`)
	f.Add(`{"body": "a&b", "attachments": {}}`)
	f.Fuzz(func(t *testing.T, envelope string) {
		var m Message
		if m.UnmarshalJSON([]byte(envelope)) != nil {
			return
		}
		got, gotErr := m.MarshalJSON()
		want, wantErr := m.marshalMap()
		if string(got) != string(want) || errString(gotErr) != errString(wantErr) {
			t.Errorf("got %s (%v), want %s (%v)", got, gotErr, want, wantErr)
		}
	})
}

// TestSetCompactBody: a body set as compact is copied as is; assigning Body
// another slice afterwards brings back compaction (and its validation).
func TestSetCompactBody(t *testing.T) {
	var m Message
	m.SetCompactBody([]byte(`{"k":"v & w"}`))
	got, err := m.MarshalJSON()
	if want, _ := m.marshalMap(); err != nil || string(got) != string(want) {
		t.Errorf("compact body: got %s (%v), want %s", got, err, want)
	}
	// The marker, not the encoder, decided: a non-compact body set through
	// SetCompactBody (a misuse) is copied verbatim.
	m.SetCompactBody([]byte(`{ "k" : 1 }`))
	if got, _ := m.MarshalJSON(); string(got) != `{"body":{ "k" : 1 },"headers":{}}` {
		t.Errorf("marked body was not copied as is: %s", got)
	}
	copied := m // a copy of the message keeps the marker with the same slice
	if got, _ := copied.MarshalJSON(); string(got) != `{"body":{ "k" : 1 },"headers":{}}` {
		t.Errorf("copy lost the marker: %s", got)
	}
	m.Body = json.RawMessage(`{ "k" : 2 }`)
	if got, _ := m.MarshalJSON(); string(got) != `{"body":{"k":2},"headers":{}}` {
		t.Errorf("a replaced body must be compacted again: %s", got)
	}
	m.Body = json.RawMessage(`{"a":`)
	if _, err := m.MarshalJSON(); err == nil {
		t.Error("a replaced invalid body must fail to encode")
	}
	m.SetCompactBody(nil)
	if got, _ := m.MarshalJSON(); string(got) != `{"body":{},"headers":{}}` {
		t.Errorf("empty compact body: %s", got)
	}
}
