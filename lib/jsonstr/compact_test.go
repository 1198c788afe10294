package jsonstr

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// checkCompact compares Compact with encoding/json: the same verdict as
// json.Valid and, for valid texts, the same bytes as json.Compact; and no
// copy when only the ends have whitespace.
func checkCompact(t *testing.T, src []byte) {
	t.Helper()
	got, err := Compact(src)
	valid := json.Valid(src)
	if valid != (err == nil) {
		t.Fatalf("Compact(%q): err = %v, but json.Valid = %v", src, err, valid)
	}
	if Valid(src) != valid {
		t.Fatalf("Valid(%q) = %v, json.Valid = %v", src, !valid, valid)
	}
	if err != nil {
		return
	}
	var want bytes.Buffer
	if err := json.Compact(&want, src); err != nil {
		t.Fatalf("json.Compact(%q): %v", src, err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("Compact(%q) = %q, want %q", src, got, want.Bytes())
	}
	inner := bytes.TrimSpace(src)
	if !bytes.Equal(inner, got) {
		return // compacted into a new slice
	}
	if len(got) > 0 && &got[0] != &inner[0] {
		t.Fatalf("Compact(%q) copied a text that was already compact", src)
	}
}

func TestCompactIsEncodingJSON(t *testing.T) {
	for _, s := range []string{
		// valid, compact
		`{}`, `[]`, `0`, `-0`, `-0.5e+10`, `1E3`, `123.456`, `"x"`, `true`, `false`, `null`,
		`{"data":{"id":"1","type":"patient","attributes":{"name":"Zoë","tags":["a","b"],"n":-1.5e-3,"ok":true,"x":null}}}`,
		`"esc \" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00"`, "\"bad utf8 \xff\xfe\"", `[[[[]]],{}]`,
		// valid, whitespace at the ends only
		"{}\n", " \t\r\n[1,2] ", "\n\"s\"\n",
		// valid, whitespace inside
		`{ "a" : 1 , "b" : [ 1 , 2 ] }`, "[\n  1,\n  {\"k\": \"v\"}\n]\n", `{"a" :1}`, `{"a": 1}`, `[1 ]`, `[ 1]`, `{ }`, `[ ]`,
		// invalid
		``, ` `, `{`, `}`, `[`, `]`, `[1,]`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{a:1}`, `{"a" 1}`, `[1 2]`, `01`, `-`, `1.`,
		`.5`, `1e`, `1e+`, `+1`, `tru`, `truee`, `nul`, `falsey`, `"unterminated`, `"ctl` + "\x01" + `"`, `"\x"`,
		`"\u12"`, `"\u12G4"`, `"\`, `{} {}`, `1 2`, `[}`, `{]`, `{"a":1]`, `[1}`, "\x00", `NaN`, `{"a":1`,
	} {
		checkCompact(t, []byte(s))
	}
}

func TestCompactDepth(t *testing.T) {
	for _, n := range []int{maxDepth, maxDepth + 1} {
		checkCompact(t, []byte(strings.Repeat("[", n)+strings.Repeat("]", n)))
		checkCompact(t, []byte(strings.Repeat(`{"a":`, n)+"1"+strings.Repeat("}", n)))
	}
}

func FuzzCompact(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e3,true,null,"x\u00e9"]}`, "{ \"a\" : [ ] }\n", `[1,]`, `"\u12"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) { checkCompact(t, src) })
}

// BenchmarkCompact compares Compact with json.Compact on an API answer that
// is already compact, as answers usually are.
func BenchmarkCompact(b *testing.B) {
	doc := []byte(`{"data":{"id":"5a1b2c3d4e5f","type":"patient","attributes":{"first-name":"Ada","last-name":"Lovelace",` +
		`"email":"ada@example.org","birth-date":"1815-12-10","gender":"female","phone":"+1 555 0100","tags":["a","b"],` +
		`"address":{"line1":"12 St James's Sq","city":"London","postal-code":"SW1Y 4JH"},"weight":61.5,"active":true}},` +
		`"meta":{"req_id":"b0e8a0a6-2f1c-4b7e-9d1a-6c3f5e2d1a0b"}}` + "\n")
	b.Run("jsonstr", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := Compact(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			var buf bytes.Buffer
			buf.Grow(len(doc))
			if err := json.Compact(&buf, doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
