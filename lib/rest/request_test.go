package rest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
)

const base = "http://127.0.0.1:1/pub"

func build(t *testing.T, op *Operation, in string) *http.Request {
	t.Helper()
	req, err := BuildRequest(context.Background(), op, base+"/", input(in))
	if err != nil {
		t.Fatalf("BuildRequest: %v", err)
	}
	return req
}

func TestBuildRequestPathEscape(t *testing.T) {
	req := build(t, fetchPatient, `{"id":"a/b c?d"}`)
	if got := req.URL.EscapedPath(); got != "/pub/patient/a%2Fb%20c%3Fd" {
		t.Errorf("path %q", got)
	}
	if req.URL.RawQuery != "" || req.Method != "GET" || req.Body != nil {
		t.Errorf("query %q method %s body %v", req.URL.RawQuery, req.Method, req.Body)
	}
	if req.Header.Get("Accept") != "application/vnd.api+json" || req.Header.Get("Content-Type") != "" {
		t.Errorf("headers %v", req.Header)
	}
	if _, err := BuildRequest(context.Background(), fetchPatient, base, input(`{"id":".."}`)); inputField(err) != "id" {
		t.Errorf("dot-dot id: %v", err)
	}
}

func TestBuildRequestQuery(t *testing.T) {
	req := build(t, fetchPatients, `{
		"filter": {"identifier": {"system": "urn:mrn", "value": "12 3&x"}, "archived": "true"},
		"filter.groups": "g1",
		"filter[organization]": "o1",
		"page": {"size": "20"},
		"include": ["groups", "coaches"],
		"weight": 72.5,
		"tag": "a, b",
		"trace": "t-1",
		"unrelated": {"x": 1}
	}`)
	want := "filter[archived]=true&filter[groups]=g1&filter[identifier][system]=urn%3Amrn" +
		"&filter[identifier][value]=12+3%26x&filter[organization]=o1&include=groups,coaches" +
		"&page[size]=20&tag=a&tag=b&weight=72.5"
	if req.URL.RawQuery != want {
		t.Errorf("query\n got %s\nwant %s", req.URL.RawQuery, want)
	}
	q := req.URL.Query()
	if q.Get("filter[identifier][value]") != "12 3&x" {
		t.Errorf("decoded value %q", q.Get("filter[identifier][value]"))
	}
	if req.Header.Get("X-Trace") != "t-1" {
		t.Errorf("header param %q", req.Header.Get("X-Trace"))
	}
	// Empty strings and nulls are absent.
	req = build(t, fetchPatients, `{"filter": {"groups": "", "organization": null}, "include": "groups,,coaches"}`)
	if req.URL.RawQuery != "include=groups,coaches" {
		t.Errorf("query %q", req.URL.RawQuery)
	}
}

func inputField(err error) string {
	var ie *component.InputError
	if !errors.As(err, &ie) {
		return "<not an InputError: " + errString(err) + ">"
	}
	return ie.Field
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func TestBuildRequestValidation(t *testing.T) {
	tests := []struct {
		name   string
		op     *Operation
		in     string
		field  string
		reason string
	}{
		{"required path", fetchPatient, `{}`, "id", "required"},
		{"required empty string", fetchPatient, `{"id": ""}`, "id", "required"},
		{"string type", fetchPatient, `{"id": 12}`, "id", "must be a string"},
		{"enum", fetchCalendarEvents, `{"filter": {"type": "lunch"}}`, "filter.type", `"lunch" is not one of`},
		{"csv item enum", fetchPatients, `{"include": ["groups", "plans"]}`, "include", `item 2: "plans" is not one of`},
		{"csv string item enum", fetchPatients, `{"include": "groups,plans"}`, "include", "plans"},
		{"array type", fetchPatients, `{"include": {"a": 1}}`, "include", "must be an array"},
		{"max", fetchPatients, `{"page": {"size": 51}}`, "page.size", "at most 50"},
		{"min", fetchPatients, `{"page": {"number": "0"}}`, "page.number", "at least 1"},
		{"whole number", fetchPatients, `{"page": {"size": 2.5}}`, "page.size", "whole number"},
		{"integer string", fetchPatients, `{"page": {"size": "ten"}}`, "page.size", "must be an integer"},
		{"integer bool", fetchPatients, `{"page": {"size": true}}`, "page.size", "must be an integer"},
		{"number max", fetchPatients, `{"weight": "500.1"}`, "weight", "at most 500"},
		{"boolean", fetchPatients, `{"filter": {"archived": "yes"}}`, "filter.archived", "true or false"},
		{"mixed paging", fetchPatients, `{"page": {"number": 2, "cursor": "abc"}}`, "page", "not both"},
		{"mixed paging 2", fetchPatients, `{"page": {"size": 2, "limit": 5}}`, "page", "not both"},
		{"body required", createPatient, `{}`, "requestBody", "required"},
		{"body not object", createPatient, `{"requestBody": [1]}`, "requestBody", "JSON object"},
		{"body data scalar", createPatient, `{"requestBody": {"data": "x"}}`, "requestBody.data", "object or an array"},
		{"body data null", createPatient, `{"requestBody": {"data": null}}`, "requestBody.data", "object or an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BuildRequest(context.Background(), tt.op, base, input(tt.in))
			if got := inputField(err); got != tt.field {
				t.Fatalf("field %q, want %q (err %v)", got, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q lacks %q", err, tt.reason)
			}
		})
	}
}

func TestBuildRequestAcceptedForms(t *testing.T) {
	for _, in := range []string{
		`{"page": {"size": "2"}}`, `{"page": {"size": 2}}`, `{"page": {"size": 2.0}}`, `{"page": {"size": "2.0"}}`,
	} {
		req := build(t, fetchPatients, in)
		if req.URL.RawQuery != "page[size]=2" {
			t.Errorf("%s: query %q", in, req.URL.RawQuery)
		}
	}
	req := build(t, fetchPatients, `{"page": {"limit": 0, "cursor": "c/1"}, "filter": {"archived": false}}`)
	if req.URL.RawQuery != "filter[archived]=false&page[cursor]=c%2F1&page[limit]=0" {
		t.Errorf("query %q", req.URL.RawQuery)
	}
}

func TestBuildRequestBody(t *testing.T) {
	in := `{"id": "p1", "requestBody": {"data": {"type": "patient", "attributes": {"first_name": "Ada", "weight": 61.25}}}}`
	req := build(t, updatePatient, in)
	if req.Method != "PATCH" || req.Header.Get("Content-Type") != "application/x-test+json" {
		t.Errorf("method %s content type %q", req.Method, req.Header.Get("Content-Type"))
	}
	want := `{"data":{"attributes":{"first_name":"Ada","weight":61.25},"type":"patient"}}`
	got, _ := io.ReadAll(req.Body)
	if string(got) != want {
		t.Errorf("body %s", got)
	}
	if req.GetBody == nil {
		t.Fatal("GetBody not set")
	}
	again, _ := req.GetBody()
	replayed, _ := io.ReadAll(again)
	if string(replayed) != want || req.ContentLength != int64(len(want)) {
		t.Errorf("replayed %s, length %d", replayed, req.ContentLength)
	}
	// Default media type; bulk (array) data accepted.
	req = build(t, createPatient, `{"requestBody": {"data": [{"type": "patient"}]}}`)
	if req.Header.Get("Content-Type") != "application/vnd.api+json" {
		t.Errorf("content type %q", req.Header.Get("Content-Type"))
	}
}

func TestBuildRequestPatchDataID(t *testing.T) {
	op := *updatePatient
	body := *op.Body
	body.IDParam = "id"
	op.Body = &body
	for i, in := range []string{
		`{"id": "p1", "requestBody": {"data": {"type": "patient", "attributes": {"first_name": "Ada"}}}}`,
		`{"id": "p1", "requestBody": {"data": {"type": "patient", "id": "p1", "attributes": {"first_name": "Ada"}}}}`,
		`{"id": "p1", "requestBody": {"data": {"type": "patient", "id": "", "attributes": {"first_name": "Ada"}}}}`,
	} {
		m := input(in)
		req, err := BuildRequest(context.Background(), &op, base, m)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		got, _ := io.ReadAll(req.Body)
		if want := `{"data":{"attributes":{"first_name":"Ada"},"id":"p1","type":"patient"}}`; string(got) != want {
			t.Errorf("%s: body %s, want %s", in, got, want)
		}
		if _, filled := m["requestBody"].(map[string]any)["data"].(map[string]any)["id"]; i == 0 && filled {
			t.Errorf("%s: the input was modified", in)
		}
	}
	_, err := BuildRequest(context.Background(), &op, base, input(`{"id": "p1", "requestBody": {"data": {"type": "patient", "id": "p2"}}}`))
	var ie *component.InputError
	if !errors.As(err, &ie) || ie.Field != "requestBody.data.id" || !strings.Contains(ie.Reason, `"p2"`) || !strings.Contains(ie.Reason, `"p1"`) {
		t.Errorf("a data.id other than the path's: %v; want an input error on requestBody.data.id naming both", err)
	}
	if _, err := BuildRequest(context.Background(), &op, base, input(`{"id": "p1", "requestBody": {"data": {"id": 7}}}`)); inputField(err) != "requestBody.data.id" {
		t.Errorf("a number as data.id: %v", err)
	}
	// Without IDParam the document goes as it is.
	got, _ := io.ReadAll(build(t, updatePatient, `{"id": "p1", "requestBody": {"data": {"type": "patient"}}}`).Body)
	if string(got) != `{"data":{"type":"patient"}}` {
		t.Errorf("body without IDParam %s", got)
	}
}

// TestLookupSkipsObjects: a parameter renamed away from a key that another
// parameter's nested fields occupy does not read those fields.
func TestLookupSkipsObjects(t *testing.T) {
	op := &Operation{ID: "x", Method: "GET", Path: "/x", Params: []Param{
		{Name: "filter[a]", Field: "filter.a", In: "query", Type: "string"},
		{Name: "filter", Field: "query_filter", In: "query", Type: "string"},
	}}
	if q := build(t, op, `{"filter": {"a": "1"}}`).URL.RawQuery; q != "filter[a]=1" {
		t.Errorf("query %q", q)
	}
	if q := build(t, op, `{"filter": {"a": "1"}, "query_filter": "2"}`).URL.RawQuery; q != "filter=2&filter[a]=1" {
		t.Errorf("query %q", q)
	}
}
