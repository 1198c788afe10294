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
		{"openapi 3.1", `{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{}}`, `openapi: version "3.1.0" is not supported`},
		{"swagger 1.2", `{"swagger":"1.2"}`, `swagger: version "1.2" is not supported`},
		{"object query parameter", v3(`  /x:
    get:
      parameters:
        - {name: q, in: query, schema: {type: object}}
      responses: {'200': {description: ok}}
`), `paths./x.get: parameter "q": type object is not supported`},
		{"content parameter", v3(`  /x:
    get:
      parameters:
        - name: q
          in: query
          content: {application/json: {schema: {type: string}}}
      responses: {'200': {description: ok}}
`), `paths./x.get: parameter "q": no schema`},
		{"cookie parameter", v3(`  /x:
    get:
      parameters:
        - {name: c, in: cookie, schema: {type: string}}
      responses: {'200': {description: ok}}
`), `paths./x.get: parameter "c": location "cookie" is not supported`},
		{"array of arrays", v2(`"/x":{"get":{"parameters":[{"name":"q","in":"query","type":"array","items":{"type":"array","items":{"type":"string"}}}],"responses":{"200":{"description":"ok"}}}}`),
			`paths./x.get: parameter "q": array of array is not supported`},
		{"two body parameters", v2(`"/x":{"post":{"parameters":[
			{"name":"a","in":"body","schema":{"type":"object"}},{"name":"b","in":"body","schema":{"type":"object"}}],
			"responses":{"200":{"description":"ok"}}}}`), "paths./x.post: multiple body parameters"},
		{"derived id clash", v2(`"/x":{"get":{"responses":{"200":{"description":"ok"}}}},
			"/y":{"get":{"operationId":"getX","responses":{"200":{"description":"ok"}}}}`),
			`paths./y.get: operation id "getX" is also the id of paths./x.get`},
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
