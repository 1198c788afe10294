package actions

import (
	"context"
	"encoding/json"
	"sort"
	"testing"

	connector "github.com/fitbitplus/connector"
	"github.com/fitbitplus/connector/lib/rest"
	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

const specBase = "https://api.twinehealth.com/pub"

// Every generated action builds, from a sample input, a request that
// swagger.json accepts: method, path, query (every parameter but the other
// paging style), body and media type.
func TestEveryActionBuildsARequestTheSpecAccepts(t *testing.T) {
	doc, router := loadSpec(t)
	names := make([]string, 0, len(Registry))
	for name := range Registry {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) != 58 {
		t.Fatalf("%d actions, want 58", len(names))
	}
	for _, name := range names {
		op := Registry[name].(*rest.Operation)
		t.Run(name, func(t *testing.T) {
			input := sampleInput(t, doc, op)
			req, err := rest.BuildRequest(context.Background(), op, specBase, input)
			if err != nil {
				t.Fatalf("build request from %v: %v", input, err)
			}
			route, pathParams, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("%s %s: no route: %v", req.Method, req.URL, err)
			}
			if route.Operation.OperationID != op.ID {
				t.Fatalf("%s %s routes to %s", req.Method, req.URL, route.Operation.OperationID)
			}
			if op.Body != nil && req.Header.Get("Content-Type") != op.Body.MediaTypes[0] {
				t.Fatalf("content type %q, want %q", req.Header.Get("Content-Type"), op.Body.MediaTypes[0])
			}
			in := &openapi3filter.RequestValidationInput{
				Request: req, PathParams: pathParams, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			}
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Fatalf("%s %s rejected by swagger.json: %v", req.Method, req.URL, err)
			}
		})
	}
}

func loadSpec(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	var v2 openapi2.T
	if err := json.Unmarshal(connector.SwaggerJSON, &v2); err != nil {
		t.Fatal(err)
	}
	doc, err := openapi2conv.ToV3(&v2)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: specBase}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// sampleInput fills every parameter (cursor paging only, never both styles)
// and, when the operation takes one, a request document built from the
// spec's request schema.
func sampleInput(t *testing.T, doc *openapi3.T, op *rest.Operation) map[string]any {
	input := map[string]any{}
	for _, p := range op.Params {
		if p.Name == "page[number]" || p.Name == "page[size]" {
			continue
		}
		setDotted(input, p.Field, paramValue(p))
	}
	if op.Body != nil {
		item := doc.Paths.Find(op.Path).GetOperation(op.Method)
		mt := item.RequestBody.Value.Content.Get(op.Body.MediaTypes[0])
		if mt == nil || mt.Schema == nil {
			t.Fatalf("no request schema for %s", op.Body.MediaTypes[0])
		}
		doc := sample(mt.Schema.Value, 0)
		if data, ok := doc.(map[string]any)["data"].(map[string]any); ok && op.Body.IDParam != "" {
			delete(data, "id") // the action fills it in from the path
		}
		input[op.Body.Field] = doc
	}
	return input
}

func paramValue(p rest.Param) any {
	switch p.Type {
	case "integer":
		if p.Minimum != nil && *p.Minimum > 1 {
			return int(*p.Minimum)
		}
		return 1
	case "number":
		return 1.5
	case "boolean":
		return true
	case "array":
		if len(p.Enum) > 0 {
			return []any{p.Enum[0]}
		}
		return []any{"a"}
	}
	if len(p.Enum) > 0 {
		return p.Enum[0]
	}
	if p.In == "path" {
		return "5817a24d678a7c2cbf5df3ee"
	}
	return "2017-11-01T00:00:00Z..2017-12-01T00:00:00Z"
}

func setDotted(obj map[string]any, field string, v any) {
	for {
		head, rest, more := cut(field)
		if !more {
			obj[head] = v
			return
		}
		next, ok := obj[head].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[head] = next
		}
		obj, field = next, rest
	}
}

func cut(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// sample makes a value the schema accepts: required properties only,
// read-only ones left out, enums at their first value, the first
// alternative of a oneOf/anyOf, and the object form of one-or-many bodies.
func sample(s *openapi3.Schema, depth int) any {
	if s == nil || depth > 12 {
		return map[string]any{}
	}
	if len(s.AllOf) > 0 {
		// One object of the parts' properties, required where any part requires.
		merged := &openapi3.Schema{Type: &openapi3.Types{"object"}, Properties: openapi3.Schemas{}}
		for _, part := range append(openapi3.SchemaRefs{{Value: s}}, s.AllOf...) {
			for name, p := range part.Value.Properties {
				merged.Properties[name] = p
			}
			merged.Required = append(merged.Required, part.Value.Required...)
		}
		return sample(merged, depth+1)
	}
	if len(s.OneOf) > 0 {
		return sample(s.OneOf[0].Value, depth+1)
	}
	if len(s.AnyOf) > 0 {
		return sample(s.AnyOf[0].Value, depth+1)
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	switch {
	case s.Type.Is("string"):
		switch s.Format {
		case "date-time":
			return "2026-01-01T10:00:00Z"
		case "date":
			return "2026-01-01"
		}
		return "x"
	case s.Type.Is("integer"):
		return 1
	case s.Type.Is("number"):
		return 1.5
	case s.Type.Is("boolean"):
		return true
	case s.Type.Is("array"):
		if s.Items == nil {
			return []any{}
		}
		n := int(s.MinItems)
		if n == 0 {
			n = 1
		}
		out := make([]any, n)
		for i := range out {
			out[i] = sample(s.Items.Value, depth+1)
		}
		return out
	}
	if len(s.Properties) == 0 && s.Items != nil {
		return []any{sample(s.Items.Value, depth+1)}
	}
	obj := map[string]any{}
	for _, name := range s.Required {
		p := s.Properties[name]
		if p == nil || p.Value == nil || p.Value.ReadOnly {
			continue
		}
		obj[name] = sample(p.Value, depth+1)
	}
	return obj
}
