package fitbitplus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
)

func TestParseAPIError(t *testing.T) {
	body := `{"errors":[{"status":"409","code":"InvalidParameter","title":"Invalid Request",
		"detail":"filter[patient] is required","source":{"parameter":"filter[patient]"}},
		{"status":409,"code":"InvalidBodyParameter","detail":"bad type","source":{"pointer":"/data/attributes/type"}}],
		"meta":{"req_id":"r-42"}}`
	e := ParseAPIError(409, http.Header{"Content-Type": {"application/vnd.api+json; charset=utf-8"}}, []byte(body))
	if e.Status != 409 || e.ReqID != "r-42" || e.ContentType != MediaType || len(e.Errors) != 2 {
		t.Fatalf("got %+v", e)
	}
	first, second := e.Errors[0], e.Errors[1]
	if first.Code != "InvalidParameter" || first.Source.Parameter != "filter[patient]" || first.Detail != "filter[patient] is required" {
		t.Errorf("first %+v", first)
	}
	if second.Status != "409" || second.Source.Pointer != "/data/attributes/type" {
		t.Errorf("second %+v", second)
	}
	var de component.DescribedError = e
	if de.ErrorName() != "FitbitPlusAPIError" || e.Code() != "InvalidParameter" {
		t.Errorf("name %q code %q", de.ErrorName(), e.Code())
	}
	f := e.ErrorFields()
	if f["status"] != 409 || f["req_id"] != "r-42" || len(f["errors"].([]ErrorObject)) != 2 {
		t.Errorf("fields %v", f)
	}
	msg := e.Error()
	for _, want := range []string{"409", "InvalidParameter", "filter[patient] is required", "parameter filter[patient]", "/data/attributes/type", "r-42"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if e.Transient() || IsTransient(e) {
		t.Error("409 is transient")
	}
}

func TestParseAPIErrorTolerant(t *testing.T) {
	html := ParseAPIError(502, http.Header{"Content-Type": {"text/html"}}, []byte("<html>secret stack</html>"))
	if html.Status != 502 || html.ContentType != "text/html" || len(html.Errors) != 0 || !html.Transient() {
		t.Errorf("html %+v", html)
	}
	if strings.Contains(html.Error(), "secret stack") {
		t.Errorf("body leaked into %q", html.Error())
	}
	obj := ParseAPIError(403, nil, []byte(`{"errors":{"code":"Forbidden","detail":"no"}}`))
	if len(obj.Errors) != 1 || obj.Errors[0].Code != "Forbidden" {
		t.Errorf("errors as object: %+v", obj)
	}
	if f := ParseAPIError(404, nil, nil).ErrorFields(); fmt.Sprint(f["errors"]) != "[]" {
		t.Errorf("empty errors field %v", f)
	}
}

func TestIsTransient(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"429", &APIError{Status: 429}, true},
		{"500", &APIError{Status: 500}, true},
		{"503 wrapped", fmt.Errorf("x: %w", &APIError{Status: 503}), true},
		{"404", &APIError{Status: 404}, false},
		{"409", &APIError{Status: 409}, false},
		{"credential", &CredentialError{Status: 401}, false},
		{"dial", &url.Error{Op: "Get", URL: "http://x", Err: dial}, true},
		{"reset", syscall.ECONNRESET, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"deadline", context.DeadlineExceeded, true},
		{"cancelled", &url.Error{Op: "Get", URL: "http://x", Err: context.Canceled}, false},
		{"dns not found", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, false},
		{"url error, not network", &url.Error{Op: "Get", URL: "x", Err: errors.New("unsupported protocol scheme")}, false},
		{"plain", errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := IsTransient(tt.err); got != tt.want {
			t.Errorf("%s: IsTransient = %v, want %v", tt.name, got, tt.want)
		}
	}
}
