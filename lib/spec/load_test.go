package spec

import (
	"slices"
	"strings"
	"testing"
)

// v2 wraps Swagger 2.0 paths (JSON) into a document.
func v2(paths string) string {
	return `{"swagger":"2.0","info":{"title":"t","version":"1"},"paths":{` + paths + `}}`
}

// v3 wraps OpenAPI 3.0 paths (YAML, indented two spaces) into a document.
func v3(paths string) string {
	return "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n" + paths
}

func TestLoadErrorsNameThePlace(t *testing.T) {
	tests := []struct {
		name, spec, want string
	}{
		{"not a spec", `{"foo": 1}`, "no swagger or openapi field"},
		{"yaml syntax", "openapi: [3.0", "parse spec"},
		{"openapi 3.2", `{"openapi":"3.2.0","info":{"title":"t","version":"1"},"paths":{}}`, `openapi: version "3.2.0" is not supported`},
		{"swagger 1.2", `{"swagger":"1.2"}`, `swagger: version "1.2" is not supported`},
		{"no info", `{"swagger":"2.0","paths":{}}`, "invalid spec: info: value of version must be a non-empty string"},
		{"broken component", v3(`  /x:
    get:
      responses: {'200': {description: ok}}
components:
  schemas:
    A: {type: table}
`), "invalid spec: components.schemas.A: "},
		{"external ref", v3(`  /x:
    get:
      responses:
        '200': {$ref: 'other.yaml#/components/responses/R'}
`), "other.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.spec))
			if err == nil {
				t.Fatalf("Load succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestLoadWarnings: each defect that does not stop anyone from calling the
// API is worked around with one warning naming the place and what was done.
func TestLoadWarnings(t *testing.T) {
	tests := []struct {
		name, spec string
		ids        []string // operations generated
		want       []string // warnings, in order
	}{
		{"object query parameter", v3(`  /x:
    get:
      operationId: x
      parameters:
        - {name: q, in: query, schema: {type: object}}
        - {name: r, in: query, required: true, schema: {type: string}}
      responses: {'200': {description: ok}}
`), []string{"x"}, []string{`paths./x.get: optional parameter "q" left out: type object is not supported`}},
		{"required cookie parameter", v3(`  /x:
    get:
      operationId: x
      parameters:
        - {name: c, in: cookie, required: true, schema: {type: string}}
      responses: {'200': {description: ok}}
  /y:
    get:
      operationId: y
      parameters:
        - name: q
          in: query
          content: {application/json: {schema: {type: string}}}
      responses: {'200': {description: ok}}
`), []string{"y"}, []string{
			`paths./x.get: left out: parameter "c": location "cookie" is not supported (want path, query or header)`,
			`paths./y.get: optional parameter "q" left out: no schema`}},
		{"array of arrays", v2(`"/x":{"get":{"operationId":"x","parameters":[{"name":"q","in":"query","required":true,"type":"array","items":{"type":"array","items":{"type":"string"}}}],"responses":{"200":{"description":"ok"}}}}`),
			nil, []string{`paths./x.get: left out: parameter "q": array of array is not supported`}},
		{"two body parameters", v2(`"/x":{"post":{"operationId":"x","parameters":[
			{"name":"a","in":"body","schema":{"type":"object"}},{"name":"b","in":"body","schema":{"type":"object"}}],
			"responses":{"200":{"description":"ok"}}}},"/y":{"get":{"operationId":"y","responses":{"200":{"description":"ok"}}}}`),
			[]string{"y"}, []string{`paths./x.post: left out: multiple body parameters cannot exist for the same operation`}},
		{"no operationId, duplicate operationIds", v2(`"/x":{"get":{"responses":{"200":{"description":"ok"}}}},
			"/y":{"get":{"operationId":"getX","responses":{"200":{"description":"ok"}}}},
			"/z":{"get":{"operationId":"getX","responses":{"200":{"description":"ok"}}}}`),
			[]string{"getX", "getY", "getZ"}, []string{
				`paths./x.get: no operationId; named getX`,
				`paths./y.get: operationId "getX" is also the id of paths./x.get; named getY`,
				`paths./z.get: operationId "getX" is also the id of paths./x.get; named getZ`}},
		{"example and default of the wrong type", v3(`  /x:
    get:
      operationId: x
      parameters:
        - {name: n, in: query, schema: {type: integer, default: many}, example: 3}
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/A'}, example: {a: 1}}}
components:
  schemas:
    A:
      type: object
      properties: {a: {type: string, example: 7}}
      example: {a: x}
`), []string{"x"}, []string{
			`components.schemas.A.properties.a: example does not match the schema (value must be a string); dropped`,
			`paths./x.get.parameters.n.schema: default does not match the schema (value must be an integer); dropped`,
			`paths./x.get.responses.200.content.application/json: example does not match the schema ("/a": value must be a string); dropped`}},
		{"swagger 2 definition example", v2(`"/x":{"get":{"operationId":"x","responses":{"200":{"description":"ok","schema":{"$ref":"#/definitions/A"}}}}}},
			"definitions":{"A":{"type":"object","properties":{"id":{"type":"string"}},"example":{"id":5}}`),
			[]string{"x"}, []string{`definitions.A: example does not match the schema ("/id": value must be a string); dropped`}},
		{"bad pattern, array without items", v3(`  /x:
    get:
      operationId: x
      parameters:
        - {name: q, in: query, schema: {type: string, pattern: '(unclosed'}}
      responses:
        '200': {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/L'}}}}
components:
  schemas:
    L: {type: array}
`), []string{"x"}, []string{"components.schemas.L: array without items; its items are left open",
			"paths./x.get.parameters.q.schema: pattern \"(unclosed\" is no regular expression; dropped"}},
		{"$ref to nothing", v2(`"/x":{"post":{"operationId":"x","parameters":[{"name":"b","in":"body","schema":{"$ref":"#/definitions/holder"}}],
			"responses":{"200":{"description":"ok","schema":{"type":"object","properties":{"a":{"$ref":"#/definitions/A"},"h":{"$ref":"#/definitions/holder"}}}}}}}},
			"definitions":{"A":{"type":"string"}`), []string{"x"}, []string{
			`paths./x.post.parameters[0].schema: $ref "#/definitions/holder" points to nothing; read as any value`,
			`paths./x.post.responses.200.schema.properties.h: $ref "#/definitions/holder" points to nothing; read as any value`}},
		{"openapi 3 $ref to nothing", v3(`  /x:
    get:
      operationId: x
      parameters: [{$ref: '#/components/parameters/Gone'}]
      responses:
        '200': {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/Gone'}}}}
`), []string{"x"}, []string{
			`paths./x.get.parameters[0]: $ref "#/components/parameters/Gone" points to nothing; parameter left out`,
			`paths./x.get.responses.200.content.application/json.schema: $ref "#/components/schemas/Gone" points to nothing; read as any value`}},
		{"openapi 3.1 forms in a 3.0 document", v3(`  /x:
    get:
      operationId: x
      parameters:
        - {name: n, in: query, schema: {type: [integer, 'null']}}
      responses: {'200': {description: ok}}
`), []string{"x"}, []string{
			"paths./x.get.parameters.n: an array of types is for OpenAPI >=3.1; before that type MUST be a single string; read as OpenAPI 3.1"}},
		{"response without description", v3(`  /x:
    get:
      operationId: x
      responses:
        '200': {content: {application/json: {schema: {type: object}}}}
        '404': {}
`), []string{"x"}, []string{
			`paths./x.get.responses.200: response has no description; left empty`,
			`paths./x.get.responses.404: response has no description; left empty`}},
		{"conflicting templates", v3(`  /boards/{idBoard}/cards/{idCard}:
    get:
      operationId: getCard
      parameters:
        - {name: idBoard, in: path, required: true, schema: {type: string}}
        - {name: idCard, in: path, required: true, schema: {type: string}}
      responses: {'200': {description: ok}}
  /boards/{idBoard}/cards/{filter}:
    get:
      operationId: getCards
      parameters:
        - {name: idBoard, in: path, required: true, schema: {type: string}}
        - {name: filter, in: path, required: true, schema: {type: string}}
      responses: {'200': {description: ok}}
`), []string{"getCard", "getCards"}, []string{
			`paths./boards/{idBoard}/cards/{filter}: a router would call this template the same as /boards/{idBoard}/cards/{idCard}; kept (the generator routes nothing)`}},
		{"undeclared path parameter", v3(`  /x/{id}:
    get:
      operationId: x
      responses: {'200': {description: ok}}
  /y:
    get:
      operationId: y
      responses: {'200': {description: ok}}
`), []string{"y"}, []string{`paths./x/{id}.get: left out: path parameters [id] are not declared, or not in the template`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Load([]byte(tt.spec))
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(doc); !slices.Equal(got, tt.ids) {
				t.Errorf("operations %v, want %v", got, tt.ids)
			}
			var got []string
			for _, w := range doc.Warnings {
				got = append(got, w.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestLoadOpenAPI31(t *testing.T) {
	doc, err := Load([]byte(`openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /x:
    get:
      operationId: x
      parameters:
        - {name: n, in: query, schema: {type: [integer, 'null'], examples: [1, 2]}}
        - {name: s, in: query, schema: {type: ['null', string], examples: [x, 3]}}
      responses: {'200': {description: ok}}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := doc.Operations[0].Params
	if p[0].Type() != "integer" || p[1].Type() != "string" {
		t.Errorf("types %s, %s; want integer, string (null left aside)", p[0].Type(), p[1].Type())
	}
	if len(doc.Warnings) != 1 || !strings.Contains(doc.Warnings[0].String(), `parameters.s.schema: examples[1] does not match the schema`) {
		t.Errorf("warnings %v", doc.Warnings)
	}
}

func TestLoadSwagger2(t *testing.T) {
	doc, err := Load([]byte(`{
  "swagger": "2.0",
  "info": {"title": "t", "version": "7"},
  "host": "api.example.com", "basePath": "/pub", "schemes": ["https", "http"],
  "produces": ["application/vnd.api+json"],
  "securityDefinitions": {"OAuth2": {"type": "oauth2", "flow": "application", "tokenUrl": "https://x/t", "scopes": {}}},
  "security": [{"OAuth2": []}],
  "paths": {
    "/item/{id}": {
      "parameters": [
        {"name": "id", "in": "path", "required": true, "type": "string", "description": "path level"},
        {"name": "ids", "in": "query", "type": "array", "items": {"type": "string"}}
      ],
      "get": {
        "parameters": [{"name": "id", "in": "path", "required": true, "type": "string", "description": "operation level"}],
        "responses": {"404": {"description": "no"}, "201": {"description": "b"}, "200": {"description": "a"}}
      },
      "post": {
        "operationId": "token", "security": [],
        "consumes": ["application/vnd.api+json", "application/json"],
        "parameters": [{"name": "body", "in": "body", "required": true, "schema": {"type": "object"}}],
        "responses": {"204": {"description": "none"}}
      }
    }
  }
}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://api.example.com/pub", "http://api.example.com/pub"}; !slices.Equal(doc.Servers, want) {
		t.Errorf("servers %v, want %v", doc.Servers, want)
	}
	if !doc.OAuth2 {
		t.Error("OAuth2 scheme not seen")
	}
	if got := ids(doc); !slices.Equal(got, []string{"getItemById", "token"}) {
		t.Fatalf("operations %v", got)
	}
	get, post := doc.Operations[0], doc.Operations[1]
	if !get.IDDerived || post.IDDerived {
		t.Error("IDDerived wrong")
	}
	if len(get.Params) != 2 || get.Params[0].Description != "operation level" || get.Params[1].Name != "ids" {
		t.Errorf("params not merged by (name, in) with the operation winning in place: %+v", get.Params)
	}
	if got := get.Params[1].Collection; got != "csv" {
		t.Errorf("swagger 2 array without collectionFormat: collection %q, want csv", got)
	}
	if !get.Secured || post.Secured {
		t.Errorf("secured: get %v (root security), post %v (security: [])", get.Secured, post.Secured)
	}
	if get.Response.Code != 200 || post.Response.Code != 204 {
		t.Errorf("success codes %d, %d", get.Response.Code, post.Response.Code)
	}
	if !slices.Equal(post.Response.MediaTypes, []string{"application/vnd.api+json"}) || post.Response.Schema != nil {
		t.Errorf("no-body response: %+v", post.Response)
	}
	if b := post.Body; b == nil || !b.Required || !slices.Equal(b.MediaTypes, []string{"application/vnd.api+json", "application/json"}) {
		t.Errorf("body %+v", post.Body)
	}
}

func TestLoadOpenAPI3MediaTypeOrder(t *testing.T) {
	doc, err := Load([]byte(v3(`  /x:
    post:
      operationId: x
      requestBody:
        $ref: '#/components/requestBodies/B'
      responses:
        '200':
          description: ok
          content:
            text/plain: {schema: {type: string}}
            application/json: {schema: {type: object}}
components:
  requestBodies:
    B:
      content:
        application/xml: {schema: {type: object}}
        application/json: {schema: {type: object}}
        application/a+json: {schema: {type: object}}
`)))
	if err != nil {
		t.Fatal(err)
	}
	op := doc.Operations[0]
	if want := []string{"application/xml", "application/json", "application/a+json"}; !slices.Equal(op.Body.MediaTypes, want) {
		t.Errorf("body media types %v, want document order %v", op.Body.MediaTypes, want)
	}
	if want := []string{"text/plain", "application/json"}; !slices.Equal(op.Response.MediaTypes, want) {
		t.Errorf("response media types %v, want %v", op.Response.MediaTypes, want)
	}
	if op.Response.Schema.Value.Type.Slice()[0] != "string" {
		t.Error("response schema is not the first media type's")
	}
}

func TestDeriveID(t *testing.T) {
	for _, tt := range []struct{ method, path, want string }{
		{"GET", "/pets/{petId}/toys", "getPetsByPetIdToys"},
		{"POST", "/health_profile", "postHealthProfile"},
		{"DELETE", "/a/{b-c}", "deleteAByBC"},
		{"GET", "/", "getRoot"},
	} {
		if got := DeriveID(tt.method, tt.path); got != tt.want {
			t.Errorf("DeriveID(%s, %s) = %s, want %s", tt.method, tt.path, got, tt.want)
		}
	}
}

func ids(doc *Doc) []string {
	var out []string
	for _, op := range doc.Operations {
		out = append(out, op.ID)
	}
	return out
}

func TestLoadSwagger2YAML(t *testing.T) {
	doc, err := Load([]byte(`swagger: "2.0"
info: {title: t, version: "1"}
paths:
  /x:
    get:
      operationId: getX
      parameters:
        - {name: tags, in: query, type: array, collectionFormat: multi, items: {type: string}}
      responses: {"200": {description: ok}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(doc); !slices.Equal(got, []string{"getX"}) {
		t.Fatalf("operations %v", got)
	}
	if c := doc.Operations[0].Params[0].Collection; c != "multi" {
		t.Errorf("collectionFormat multi: collection %q", c)
	}
}
