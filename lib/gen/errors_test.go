package gen

import (
	"strings"
	"testing"
)

func v2Spec(paths string) []byte {
	return []byte(`{"swagger":"2.0","info":{"title":"t","version":"1"},"paths":{` + paths + `}}`)
}

const ok200 = `"responses":{"200":{"description":"ok"}}`

func TestGenerateErrorsNameThePlace(t *testing.T) {
	tests := []struct {
		name    string
		spec    []byte
		overlay string
		want    string
	}{
		{"bad spec", v2Spec(`"/x":{"get":{"parameters":[{"name":"q","in":"query","type":"array","items":{"type":"array","items":{"type":"string"}}}],` + ok200 + `}}`),
			"", `paths./x.get: parameter "q": array of array is not supported`},
		{"leaf and object field", v2Spec(`"/x":{"get":{"parameters":[
			{"name":"filter","in":"query","type":"string"},{"name":"filter[a]","in":"query","type":"string"}],` + ok200 + `}}`),
			"", `paths./x.get: parameter "filter[a]": input field "filter" clashes with parameter "filter"`},
		{"path and query field", v2Spec(`"/x/{id}":{"get":{"parameters":[
			{"name":"id","in":"path","required":true,"type":"string"},{"name":"id","in":"query","type":"string"}],` + ok200 + `}}`),
			"", `paths./x/{id}.get: parameter "id": input field "id" clashes with parameter "id"`},
		{"parameter named like the body", v2Spec(`"/x":{"post":{"parameters":[
			{"name":"requestBody","in":"query","type":"string"},{"name":"b","in":"body","schema":{"type":"object"}}],` + ok200 + `}}`),
			"", `paths./x.post: parameter "requestBody": input field "requestBody" is the request body's`},
		{"dotted parameter", v2Spec(`"/x":{"get":{"parameters":[{"name":"a.b","in":"query","type":"string"}],` + ok200 + `}}`),
			"", `paths./x.get: parameter "a.b": cannot be an input field`},
		{"no info", []byte(`{"swagger":"2.0","paths":{}}`), "", "invalid info"},
		{"go name clash", v2Spec(`"/a":{"get":{"operationId":"list-pets",` + ok200 + `}},"/b":{"get":{"operationId":"listPets",` + ok200 + `}}`),
			"", `paths./b.get: Go name ListPets is also the name of paths./a.get`},
		{"reserved name", v2Spec(`"/a":{"get":{"operationId":"registry",` + ok200 + `}}`),
			"", `paths./a.get: operation id "registry" is reserved`},
		{"overlay clash", v2Spec(`"/a":{"get":{"operationId":"getA",` + ok200 + `}}`),
			`{"actions":{"getA":{"main":"./actions/a.go","title":"A"}}}`, `overlay action "getA": the generated descriptor already has it`},
		{"overlay in the wrong dialect", v2Spec(`"/a":{"get":{"operationId":"getA",` + ok200 + `}}`),
			`{"triggers":{"t":{"main":"x","title":"T","metadata":{"out":{"type":"object","required":["a"]}}}}}`, "overlay: parse component descriptor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{}
			if tt.overlay != "" {
				opts.Overlay = []byte(tt.overlay)
			}
			_, err := Generate(tt.spec, opts)
			if err == nil {
				t.Fatalf("Generate succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"fetchPatients":               "fetch_patients",
		"createCalendarEventResponse": "create_calendar_event_response",
		"fetchHTTPStatus2":            "fetch_http_status2",
		"list-pets":                   "list_pets",
		"v2Pets":                      "v2_pets",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}
