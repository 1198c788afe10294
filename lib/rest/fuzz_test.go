package rest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fitbitplus/connector/actions"
	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/rest"
)

// fuzzOps are real generated operations: path parameters, query filters of
// every type with enums, bounds, arrays and both paging styles, and bodies.
var fuzzOps = []*rest.Operation{
	actions.FetchPatient, actions.FetchPatients, actions.FetchPatientHealthMetrics,
	actions.CreatePatientHealthMetric, actions.UpdatePatient, actions.FetchCalendarEvents,
}

const fuzzBase = "http://127.0.0.1:1/pub"

// FuzzBuildRequest builds requests from arbitrary message bodies: it must
// never panic; it either refuses the input with a *component.InputError or
// builds a request for the operation's method under the base URL, whose path
// keeps the template's segments (no parameter escapes its segment) and
// whose body, if any, is a JSON object.
func FuzzBuildRequest(f *testing.F) {
	for _, seed := range []string{
		`{"id":"5817a24d678a7c2cbf5df3ee"}`,
		`{"id":".."}`, `{"id":"a/b?c#d"}`, `{"id":"%2e%2e"}`, `{"id":12}`, `{"id":null}`,
		`{"filter":{"identifier":{"system":"MyEHR","value":"E10000"}},"page":{"limit":"5"}}`,
		`{"filter[identifier][system]":"s","page[number]":2,"page[size]":"10"}`,
		`{"page":{"number":1,"limit":5}}`,
		`{"filter":{"patient":"p1","type":["blood_glucose","weight"]},"sort":"-occurred_at"}`,
		`{"filter":{"type":"blood_glucose,nope"}}`,
		`{"page":{"size":1e308}}`, `{"page":{"size":"2.5"}}`, `{"page":{"size":-1}}`,
		`{"requestBody":{"data":{"type":"patient_health_metric","attributes":{"type":"blood_glucose","value":90}}}}`,
		`{"requestBody":{"data":[{"type":"x"}]}}`, `{"requestBody":{"data":"x"}}`, `{"requestBody":[1]}`,
		`{"id":"p1","requestBody":{"data":{"type":"patient","id":"p1","attributes":{"first_name":"A"}}}}`,
		`{"filter":{"start_at":"2020-01-01T00:00:00Z"},"include":"patient"}`,
	} {
		for i := range fuzzOps {
			f.Add(uint8(i), []byte(seed))
		}
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		op := fuzzOps[int(which)%len(fuzzOps)]
		msg := component.Message{Body: body}
		input, err := msg.BodyObject()
		if err != nil {
			return
		}
		req, err := rest.BuildRequest(ctx, op, fuzzBase, input)
		if err != nil {
			var ie *component.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("%s %s: error %T %v, want an InputError", op.ID, body, err, err)
			}
			return
		}
		if req.Method != op.Method {
			t.Fatalf("method %s, want %s", req.Method, op.Method)
		}
		if req.URL.Host != "127.0.0.1:1" || !strings.HasPrefix(req.URL.Path, "/pub/") {
			t.Fatalf("%s %s: request URL %s escapes the base URL", op.ID, body, req.URL)
		}
		got := strings.Split(strings.TrimPrefix(req.URL.EscapedPath(), "/pub"), "/")
		want := strings.Split(op.Path, "/")
		if len(got) != len(want) {
			t.Fatalf("%s %s: path %s has %d segments, the template %s %d", op.ID, body, req.URL.EscapedPath(), len(got), op.Path, len(want))
		}
		for i, seg := range got {
			if seg == "." || seg == ".." || seg == "" && i > 0 {
				t.Fatalf("%s %s: path segment %q in %s", op.ID, body, seg, req.URL.EscapedPath())
			}
		}
		if req.Body != nil && req.Body != http.NoBody {
			b, err := io.ReadAll(req.Body)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("%s %s: request body %q is not a JSON object: %v", op.ID, body, b, err)
			}
		}
	})
}
