// Package rest turns the static facts of one API operation (generated under
// actions/ from swagger.json) into behaviour: it validates an action's input,
// builds the HTTP request, sends it through the credential's client and maps
// the response to events.
package rest

// Operation holds the static facts of one API operation. The generator emits
// one value per operation; nothing here is computed at run time.
type Operation struct {
	ID          string   // operationId, also the action name in component.json
	Method      string   // HTTP method, upper case
	Path        string   // path template relative to the base URL, e.g. "/patient/{id}"
	Params      []Param  // path and query (and header) parameters, in spec order
	Body        *Body    // nil when the operation takes no request body
	Produces    string   // media type of the response ("application/vnd.api+json")
	Secured     bool     // the request needs an OAuth2 bearer token
	Paging      []string // paging styles the operation supports: "cursor", "skip"
	SuccessCode int      // the documented 2xx status
}

// Param is one path, query or header parameter.
type Param struct {
	Name     string   // wire name, e.g. "filter[identifier][system]"
	Field    string   // dotted input field, e.g. "filter.identifier.system"
	In       string   // "path", "query" or "header"
	Required bool     // the input must carry the field
	Type     string   // "string", "integer", "number", "boolean" or "array"
	Items    string   // item type when Type is "array"
	Format   string   // "csv" for comma-joined arrays; format hint otherwise
	Enum     []string // allowed values (of the items, for arrays); empty when free
	Minimum  *float64 // inclusive bounds for numbers, nil when unbounded
	Maximum  *float64
}

// Body describes the request body of an operation.
type Body struct {
	Field      string   // input field holding the request document, e.g. "requestBody"
	Required   bool     // the operation needs a body
	MediaTypes []string // accepted media types, preferred first
	// IDParam names the path parameter that is the document's data.id (a
	// PATCH of one resource): filled in when the input leaves data.id out,
	// and a different data.id is refused. Empty when none.
	IDParam string
}
