package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

// reference is what encoding/json writes, with or without HTML escaping.
func reference(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s)
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func TestAppendIsEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "<a href=x&y>", "tab\tnl\nnul\x00\x1f\x7f", "Zoë Ørsted 日本",
		"bad \xff\xfe utf8 \xe2\x80", "sep \u2028 \u2029 end", "\u00a0\ufffd"} {
		for _, html := range []bool{true, false} {
			if got, want := string(Append(nil, s, html)), reference(s, html); got != want {
				t.Errorf("Append(%q, %v) = %s, want %s", s, html, got, want)
			}
		}
	}
}

func FuzzAppend(f *testing.F) {
	f.Add("a<b>&\"\\\n\u2028\xff", true)
	f.Fuzz(func(t *testing.T, s string, html bool) {
		if got, want := string(Append(nil, s, html)), reference(s, html); got != want {
			t.Errorf("Append(%q, %v) = %s, want %s", s, html, got, want)
		}
	})
}
