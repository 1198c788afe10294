package gen

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// bigSpec is an OpenAPI 3.0 document of resources × 4 operations (list with
// filters and paging, create, fetch, update), each resource with its own
// schemas, the shape of the large published specs.
func bigSpec(resources int) []byte {
	paths := map[string]any{}
	schemas := map[string]any{}
	for i := range resources {
		name := fmt.Sprintf("Thing%03d", i)
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		schemas[name] = map[string]any{
			"type": "object", "required": []string{"name"},
			"properties": map[string]any{
				"id":         map[string]any{"type": "string", "readOnly": true},
				"name":       map[string]any{"type": "string", "maxLength": 80},
				"kind":       map[string]any{"type": "string", "enum": []string{"a", "b", "c"}},
				"created_at": map[string]any{"type": "string", "format": "date-time", "readOnly": true},
				"tags":       map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
				"owner":      map[string]any{"$ref": "#/components/schemas/Owner"},
			},
		}
		doc := func(s any) map[string]any {
			return map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": s}}}
		}
		ok := func(s any) map[string]any {
			r := doc(s)
			r["description"] = "ok"
			return map[string]any{"200": r}
		}
		query := func(n string, typ string) map[string]any {
			return map[string]any{"name": n, "in": "query", "schema": map[string]any{"type": typ}}
		}
		id := map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"}}
		base := fmt.Sprintf("/things%03d", i)
		paths[base] = map[string]any{
			"get": map[string]any{"operationId": "list" + name, "summary": "List " + name,
				"parameters": []any{query("filter[name]", "string"), query("filter[kind]", "string"),
					query("page[number]", "integer"), query("page[size]", "integer"), query("sort", "string")},
				"responses": ok(map[string]any{"type": "array", "items": ref})},
			"post": map[string]any{"operationId": "create" + name, "requestBody": doc(ref), "responses": ok(ref)},
		}
		paths[base+"/{id}"] = map[string]any{
			"get":   map[string]any{"operationId": "fetch" + name, "parameters": []any{id}, "responses": ok(ref)},
			"patch": map[string]any{"operationId": "update" + name, "parameters": []any{id}, "requestBody": doc(ref), "responses": ok(ref)},
		}
	}
	schemas["Owner"] = map[string]any{"type": "object", "properties": map[string]any{
		"name": map[string]any{"type": "string"}, "email": map[string]any{"type": "string", "format": "email"}}}
	out, err := json.Marshal(map[string]any{
		"openapi": "3.0.3", "info": map[string]any{"title": "Big", "version": "1"},
		"servers": []any{map[string]any{"url": "https://api.example.com/v1"}},
		"paths":   paths, "components": map[string]any{"schemas": schemas},
	})
	if err != nil {
		panic(err)
	}
	return out
}

// BenchmarkGenerate500 generates from a spec of 500 operations; the target
// is under 2 s a generation.
func BenchmarkGenerate500(b *testing.B) {
	data := bigSpec(125)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		res, err := Generate(data, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Operations) != 500 || len(res.Warnings) != 0 {
			b.Fatalf("%d operations, %d warnings", len(res.Operations), len(res.Warnings))
		}
	}
}

// BenchmarkGenerateUpstream generates from the upstream spec as published
// (2.7 MB, 58 operations, 192 defects worked around).
func BenchmarkGenerateUpstream(b *testing.B) {
	data, err := os.ReadFile(upstreamSpec)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Generate(data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
