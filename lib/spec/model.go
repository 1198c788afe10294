// Package spec loads an API description (Swagger 2.0, OpenAPI 3.0 or 3.1,
// JSON or YAML) into a small, sorted model of operations that the generator consumes.
//
// Swagger 2.0 is converted to OpenAPI 3 with kin-openapi's openapi2conv; both
// are validated. Schemas stay kin-openapi schemas with their internal $refs
// resolved (a $ref may still form a cycle; consumers must guard against it).
// The defects of published specs are worked around, each with a Warning that
// names the place and what was done, e.g.
// `paths./x.get: optional parameter "q" left out: no schema`; errors (a
// document that cannot be read at all) name the place too.
package spec

import "github.com/getkin/kin-openapi/openapi3"

// Doc is the part of an API description the generator needs.
type Doc struct {
	SpecVersion string // "2.0" or the "3.0.x" or "3.1.x" of the source document
	Title       string // info.title
	Description string // info.description
	Version     string // info.version (the API's version)
	// Servers are the absolute base URLs, in document order: Swagger 2
	// scheme://host/basePath per scheme, OpenAPI 3 servers with their
	// variables set to their defaults. Relative URLs are left out.
	Servers []string
	// OAuth2 tells whether the document declares an OAuth2 security scheme.
	OAuth2 bool
	// Operations are sorted by ID.
	Operations []*Operation
	// Warnings are the defects worked around, sorted by place.
	Warnings []Warning
}

// Operation is one method on one path.
type Operation struct {
	ID string // operationId, or derived from method and path (see DeriveID)
	// IDDerived is true when the document gave no operationId.
	IDDerived   bool
	Method      string // upper case
	Path        string // path template as written, e.g. "/patient/{id}"
	Summary     string
	Description string
	Deprecated  bool
	// Params are the path-level parameters followed by the operation's own,
	// in document order; an operation parameter replaces the path-level one
	// with the same name and location in place.
	Params []*Param
	Body   *Body // nil when the operation takes no request body
	// Secured tells whether the effective security (the operation's, else the
	// document's) has at least one non-empty requirement. An empty list means
	// the operation needs no credentials.
	Secured  bool
	Response *Response // the documented success response; nil when none
}

// Where names the operation in error messages: "paths./x.get".
func (op *Operation) Where() string { return where(op.Path, op.Method) }

// Param is a path, query or header parameter.
type Param struct {
	Name        string // wire name, e.g. "filter[identifier][system]"
	In          string // "path", "query" or "header"
	Description string
	Required    bool
	// Collection is how an array travels: "csv" (comma-joined), "multi"
	// (repeated), "ssv" or "pipes". Empty for non-arrays.
	Collection string
	// Schema is the parameter's schema: a primitive, or an array of primitives.
	Schema *openapi3.SchemaRef
}

// Type is the schema type of the parameter ("string" when the schema has none).
func (p *Param) Type() string { return primitiveType(p.Schema) }

// ItemsType is the item type of an array parameter, "" otherwise.
func (p *Param) ItemsType() string {
	if p.Type() != "array" {
		return ""
	}
	return primitiveType(p.Schema.Value.Items)
}

// Body is the request body of an operation.
type Body struct {
	Description string
	Required    bool
	// MediaTypes are the accepted media types, preferred first: Swagger 2
	// consumes order, OpenAPI 3 content order as written.
	MediaTypes []string
	// Schema is the schema of the first media type that has one; nil if none.
	Schema *openapi3.SchemaRef
}

// Response is the documented success response of an operation.
type Response struct {
	// Code is the lowest explicit 2xx status; 200 for a "2XX" range; 0 when
	// only a "default" response is documented.
	Code        int
	Description string
	// MediaTypes are the response media types, preferred first (Swagger 2
	// produces order, OpenAPI 3 content order as written). For Swagger 2
	// they are listed even when the response has no body.
	MediaTypes []string
	Schema     *openapi3.SchemaRef // nil when the response has no body
}

func primitiveType(s *openapi3.SchemaRef) string {
	if s == nil || s.Value == nil {
		return "string"
	}
	if t := FirstType(s.Value.Type); t != "" {
		return t
	}
	return "string"
}

// FirstType is the first type of a schema other than "null" (OpenAPI 3.1
// writes a nullable string as ["string", "null"]); "" when it has none.
func FirstType(t *openapi3.Types) string {
	if t == nil {
		return ""
	}
	for _, name := range t.Slice() {
		if name != openapi3.TypeNull {
			return name
		}
	}
	return ""
}
