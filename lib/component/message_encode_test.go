package component

import (
	"encoding/json"
	"testing"
)

func TestMarshalJSON(t *testing.T) {
	cases := []struct {
		name string
		m    Message
		want string
	}{
		{"empty", Message{}, `{"body":{},"headers":{}}`},
		{"sorted, compacted, no HTML escaping", Message{ID: "m1",
			Headers: map[string]any{"b": 1, "a": "x&y<z>"},
			Body:    json.RawMessage(" {\n \"k\" : \"http://x?a=1&b=2\" } ")},
			`{"body":{"k":"http://x?a=1&b=2"},"headers":{"a":"x&y<z>","b":1},"id":"m1"}`},
		{"attachments and passthrough", Message{Attachments: json.RawMessage(`{"f": {}}`),
			Passthrough: map[string]json.RawMessage{"step_2": json.RawMessage(`{"body": {}}`)}},
			`{"attachments":{"f":{}},"body":{},"headers":{},"passthrough":{"step_2":{"body":{}}}}`},
		{"webhook fields kept", Message{Extra: map[string]json.RawMessage{"url": json.RawMessage(`"/hook"`), "method": json.RawMessage(` "POST" `)}},
			`{"body":{},"headers":{},"method":"POST","url":"/hook"}`},
	}
	for _, c := range cases {
		got, err := c.m.MarshalJSON()
		if err != nil || string(got) != c.want {
			t.Errorf("%s: got %s (%v), want %s", c.name, got, err, c.want)
		}
	}
	for _, bad := range []Message{
		{Body: json.RawMessage(`{"a":`)},
		{Headers: map[string]any{"f": func() {}}},
		{Passthrough: map[string]json.RawMessage{"s": json.RawMessage(`{]`)}},
	} {
		if got, err := bad.MarshalJSON(); err == nil {
			t.Errorf("%+v encoded as %s, want an error", bad, got)
		}
	}
}

func TestUnmarshalMarshalRoundTrip(t *testing.T) {
	in := `{"body":{"k":[1,2]},"headers":{"a":"1"},"id":"x","passthrough":{"s":{"body":{}}},"url":"/u"}`
	var m Message
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(m)
	if err != nil || string(out) != in {
		t.Errorf("round trip: %s (%v), want %s", out, err, in)
	}
}
