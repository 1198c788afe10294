// Package secrets keeps the secret values a process knows or obtains (the
// environment's, each credential's, every token as it is issued) and removes
// them from everything bound for a log, an event or the terminal.
package secrets

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"sync"
)

// Redacted replaces a secret.
const Redacted = "[REDACTED]"

// minLen keeps short values out: they would redact ordinary words.
const minLen = 6

// maxValues bounds the values kept; the oldest go first (tokens expire, and
// a worker that runs for months obtains thousands).
const maxValues = 1024

// Redactor removes known secrets from text. The zero value and nil are
// usable and know no secret.
type Redactor struct {
	mu     sync.RWMutex
	values []value // in the order added
}

// value is a secret as it is and as JSON strings write it.
type value struct {
	text  string
	forms [][]byte
}

// New returns a Redactor that knows values.
func New(values ...string) *Redactor {
	r := &Redactor{}
	r.Add(values...)
	return r
}

// Add registers values (those shorter than 6 bytes are ignored).
func (r *Redactor) Add(values ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range values {
		known := slices.ContainsFunc(r.values, func(x value) bool { return x.text == v })
		if len(v) < minLen || known {
			continue
		}
		r.values = append(r.values, value{text: v, forms: appendForms(nil, v)})
	}
	if n := len(r.values) - maxValues; n > 0 {
		r.values = slices.Delete(r.values, 0, n)
	}
}

// appendForms adds v and, when they differ, its JSON-escaped forms (with
// and without HTML escaping, as encoding/json and log/slog write strings).
func appendForms(forms [][]byte, v string) [][]byte {
	forms = append(forms, []byte(v))
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(v) != nil {
			continue
		}
		esc := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
		esc = esc[1 : len(esc)-1] // the quotes
		if !slices.ContainsFunc(forms, func(f []byte) bool { return bytes.Equal(f, esc) }) {
			forms = append(forms, esc)
		}
	}
	return forms
}

// AddConfig registers the string values of secret-looking keys (secret,
// token, password, key, auth, credential) of a configuration, at any depth.
func (r *Redactor) AddConfig(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if s, ok := val.(string); ok {
				if secretKey(k) {
					r.Add(s)
				}
				continue
			}
			r.AddConfig(val)
		}
	case []any:
		for _, val := range t {
			r.AddConfig(val)
		}
	}
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"secret", "token", "password", "key", "auth", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Bytes returns b with every known secret replaced by Redacted: b itself
// when it holds none.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil {
		return b
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, v := range r.values {
		for _, f := range v.forms {
			if bytes.Contains(b, f) {
				b = bytes.ReplaceAll(b, f, []byte(Redacted))
			}
		}
	}
	return b
}

// String is Bytes for a string.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, v := range r.values {
		for _, f := range v.forms {
			if strings.Contains(s, string(f)) {
				s = strings.ReplaceAll(s, string(f), Redacted)
			}
		}
	}
	return s
}

// Writer returns w behind the redactor: each Write is redacted as a whole,
// so a writer of whole lines (a logger) never splits a secret.
func (r *Redactor) Writer(w io.Writer) io.Writer { return &writer{w: w, r: r} }

type writer struct {
	w io.Writer
	r *Redactor
}

func (w *writer) Write(p []byte) (int, error) {
	if _, err := w.w.Write(w.r.Bytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
