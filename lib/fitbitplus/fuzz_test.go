package fitbitplus

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzParseAPIError parses arbitrary error answers: it must never panic,
// always keep the status, keep the media type only when it parses, and a
// body that is not JSON must leave no trace in the error (only the status
// and content type are kept). The error also goes through the paths that
// consume it: its message, its fields as JSON, transience and the
// credential error made of it.
func FuzzParseAPIError(f *testing.F) {
	for _, s := range []struct {
		status int
		ct     string
		body   string
	}{
		{404, "application/vnd.api+json", `{"errors":[{"status":"404","code":"ResourceNotFound","title":"Not found","detail":"no patient p1"}],"meta":{"req_id":"req-1"}}`},
		{409, "application/vnd.api+json; charset=utf-8", `{"errors":[{"status":409,"code":"InvalidBody","source":{"pointer":"/data/attributes/type"}}]}`},
		{400, "application/json", `{"errors":{"status":"400","code":"BadRequest","source":{"parameter":"filter[patient]"}}}`},
		{429, "", `{"errors":[{"status":"429"}],"meta":{"req_id":12}}`},
		{503, "text/html", `<html>Service Unavailable</html>`},
		{500, "text/plain; charset", ``},
		{401, "application/vnd.api+json", `{"errors":[1,"x",null,{"code":["a"]}]}`},
		{422, "application/vnd.api+json", `{"errors":null,"meta":null}`},
		{418, "application/vnd.api+json", `[{"errors":[]}]`},
		{400, "application/vnd.api+json", `{"errors":[{},{},{},{},{"detail":"fifth"}]}`},
	} {
		f.Add(s.status, s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, ct string, body []byte) {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		e := ParseAPIError(status, h, body)
		if e == nil || e.Status != status {
			t.Fatalf("ParseAPIError(%d) = %+v", status, e)
		}
		msg := e.Error()
		if !json.Valid(body) && len(e.Errors) != 0 {
			t.Fatalf("a body that is not JSON gave errors %+v", e.Errors)
		}
		if len(e.Errors) == 0 && len(body) >= 12 && !bytes.Contains([]byte(http.StatusText(status)), body) &&
			!strings.Contains(ct, string(body)) && strings.Contains(msg, string(body)) {
			t.Fatalf("the message %q repeats the body", msg)
		}
		if _, err := json.Marshal(e.ErrorFields()); err != nil {
			t.Fatalf("error fields do not encode: %v", err)
		}
		_ = e.Code()
		if e.Transient() != (status == http.StatusTooManyRequests || status >= 500) {
			t.Fatalf("Transient() = %v for %d", e.Transient(), status)
		}
		if IsTransient(e) != e.Transient() {
			t.Fatalf("IsTransient disagrees with Transient for %d", status)
		}
		ce := credentialErrorFrom(Credential{BaseURL: "http://127.0.0.1:1/pub", ClientID: "c", ClientSecret: "s3cr3t-value"}, e)
		if ce != nil && strings.Contains(ce.Error(), "s3cr3t-value") {
			t.Fatalf("credential error %q holds the secret", ce.Error())
		}
		// The same answer read from a response.
		r := readAPIError(&http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body))})
		if r.Status != status || len(r.Errors) != len(e.Errors) || r.ReqID != e.ReqID {
			t.Fatalf("readAPIError %+v differs from ParseAPIError %+v", r, e)
		}
		var target *APIError
		if !errors.As(error(e), &target) {
			t.Fatal("errors.As failed")
		}
	})
}
