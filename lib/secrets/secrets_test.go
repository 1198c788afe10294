package secrets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactorForms(t *testing.T) {
	r := New("plain-secret", `quo"te<&>secret`, "short")
	for _, text := range []string{
		"x plain-secret y",
		`{"a":"quo\"te\u003c\u0026\u003esecret"}`, // encoding/json
		`{"a":"quo\"te<&>secret"}`,                // log/slog
		`quo"te<&>secret`,
	} {
		if got := r.String(text); strings.Contains(got, "secret") {
			t.Errorf("%s → %s", text, got)
		}
		if got := r.Bytes([]byte(text)); bytes.Contains(got, []byte("secret")) {
			t.Errorf("bytes %s → %s", text, got)
		}
	}
	if got := r.String("a short word"); got != "a short word" {
		t.Errorf("a value under 6 bytes was redacted: %s", got)
	}
	clean := []byte("nothing here")
	if got := r.Bytes(clean); &got[0] != &clean[0] {
		t.Error("a clean text was copied")
	}
}

func TestRedactorConfigAndNil(t *testing.T) {
	r := New()
	r.AddConfig(map[string]any{"clientSecret": "cs-123456", "name": "visible-name",
		"nested": []any{map[string]any{"access_token": "tok-123456"}}})
	got := r.String("cs-123456 tok-123456 visible-name")
	if got != Redacted+" "+Redacted+" visible-name" {
		t.Errorf("got %q", got)
	}
	var none *Redactor
	none.Add("whatever-value")
	if none.String("whatever-value") != "whatever-value" {
		t.Error("a nil redactor changed text")
	}
}

func TestRedactorBoundsItsValues(t *testing.T) {
	r := New()
	for i := range maxValues + 10 {
		r.Add(fmt.Sprintf("token-%06d", i))
	}
	if got := r.String("token-000000"); got != "token-000000" {
		t.Errorf("the oldest value is still redacted: %s", got)
	}
	if got := r.String(fmt.Sprintf("token-%06d", maxValues+9)); got != Redacted {
		t.Errorf("the newest value is not redacted: %s", got)
	}
}

func TestWriterRedactsLogLines(t *testing.T) {
	var buf bytes.Buffer
	r := New("sekrit-value")
	log := slog.New(slog.NewJSONHandler(r.Writer(&buf), nil))
	log.Info("msg sekrit-value", "any", map[string]any{"deep": []string{"sekrit-value"}}, "err", fmt.Errorf("wrapped: sekrit-value"))
	if strings.Contains(buf.String(), "sekrit") {
		t.Errorf("line %s", buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Errorf("the redacted line is not JSON: %v", err)
	}
}
