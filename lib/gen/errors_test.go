package gen

import (
	"maps"
	"slices"
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
		{"no info", []byte(`{"swagger":"2.0","paths":{}}`), "", "invalid spec: info: "},
		{"no operation left", v2Spec(`"/x":{"get":{"parameters":[{"name":"q","in":"query","required":true,"type":"array","items":{"type":"array","items":{"type":"string"}}}],` + ok200 + `}}`),
			"", "paths: no operation to generate an action from"},
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

// TestGenerateWarnings: names that cannot be used as they are are changed,
// with one warning each, and the request still goes out under the wire name.
func TestGenerateWarnings(t *testing.T) {
	tests := []struct {
		name   string
		spec   []byte
		fields map[string]map[string]string // action → wire name → input field
		want   []string
	}{
		{"leaf and object field", v2Spec(`"/x":{"get":{"operationId":"x","parameters":[
			{"name":"filter","in":"query","type":"string"},{"name":"filter[a]","in":"query","type":"string"}],` + ok200 + `}}`),
			map[string]map[string]string{"x": {"filter": "filter", "filter[a]": "filter_a"}},
			[]string{`paths./x.get: parameter "filter[a]": input field filter is taken by parameter "filter"; becomes field filter_a`}},
		{"path and query field", v2Spec(`"/x/{id}":{"get":{"operationId":"x","parameters":[
			{"name":"id","in":"path","required":true,"type":"string"},{"name":"id","in":"query","type":"string"}],` + ok200 + `}}`),
			map[string]map[string]string{"x": {"id": "query_id"}},
			[]string{`paths./x/{id}.get: parameter "id": input field id is taken by parameter "id"; becomes field query_id`}},
		{"parameter named like the body", v2Spec(`"/x":{"post":{"operationId":"x","parameters":[
			{"name":"requestBody","in":"query","type":"string"},{"name":"b","in":"body","schema":{"type":"object"}}],` + ok200 + `}}`),
			map[string]map[string]string{"x": {"requestBody": "query_requestBody"}},
			[]string{`paths./x.post: parameter "requestBody": input field requestBody is taken by the request body; becomes field query_requestBody`}},
		{"dots and brackets", v2Spec(`"/x":{"get":{"operationId":"x","parameters":[
			{"name":"dateRange.startDate","in":"query","type":"string"},
			{"name":"page[size]","in":"query","type":"integer"},
			{"name":"page.size","in":"query","type":"integer"},
			{"name":"ids[]","in":"query","type":"array","items":{"type":"string"}},
			{"name":"X-Trace.Id","in":"header","type":"string"}],` + ok200 + `}}`),
			map[string]map[string]string{"x": {"dateRange.startDate": "dateRange_startDate", "page[size]": "page.size",
				"page.size": "page_size", "ids[]": "ids", "X-Trace.Id": "headers.X-Trace_Id"}},
			[]string{
				`paths./x.get: parameter "dateRange.startDate" becomes field dateRange_startDate`,
				`paths./x.get: parameter "page.size" becomes field page_size`,
				`paths./x.get: parameter "ids[]" becomes field ids`,
				`paths./x.get: parameter "X-Trace.Id" becomes field headers.X-Trace_Id`}},
		{"go name clash", v2Spec(`"/a":{"get":{"operationId":"list-pets",` + ok200 + `}},"/b":{"get":{"operationId":"listPets",` + ok200 + `}}`),
			map[string]map[string]string{"list-pets": {}, "listPets2": {}},
			[]string{`paths./b.get: Go name ListPets is also that of paths./a.get; action named listPets2`}},
		{"file name clash", v2Spec(`"/a":{"get":{"operationId":"fetchHTTP",` + ok200 + `}},"/b":{"get":{"operationId":"fetch_http",` + ok200 + `}}`),
			map[string]map[string]string{"fetchHTTP": {}, "fetch_http2": {}},
			[]string{`paths./b.get: file actions/fetch_http.gen.go is also that of paths./a.get; action named fetch_http2`}},
		{"reserved and empty names", v2Spec(`"/a":{"get":{"operationId":"registry",` + ok200 + `}},"/b":{"get":{"operationId":"--",` + ok200 + `}}`),
			map[string]map[string]string{"registry2": {}, "getB": {}},
			[]string{
				`paths./b.get: operation id "--" has no letters or digits; named getB`,
				`paths./a.get: Go name Registry is reserved (the registry); action named registry2`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Generate(tt.spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range res.Warnings {
				got = append(got, w.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			ops := map[string]map[string]string{}
			for _, op := range res.Operations {
				ops[op.ID] = map[string]string{}
				for _, p := range op.Params {
					ops[op.ID][p.Name] = p.Field
				}
			}
			for id, want := range tt.fields {
				have, ok := ops[id]
				if !ok {
					t.Errorf("no action %s (have %v)", id, slices.Sorted(maps.Keys(ops)))
					continue
				}
				for wire, field := range want {
					if have[wire] != field {
						t.Errorf("%s: parameter %q has field %q, want %q", id, wire, have[wire], field)
					}
				}
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
