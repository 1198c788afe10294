package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// MediaType is the JSON:API media type of every request and answer body.
const MediaType = "application/vnd.api+json"

// Error codes the sandbox answers with. The first seven are the API's own;
// the last three name the injected faults and the routing misses.
const (
	CodeForbidden            = "Forbidden"
	CodeInvalidParameter     = "InvalidParameter"
	CodeInvalidBodyParameter = "InvalidBodyParameter"
	CodeResourceNotFound     = "ResourceNotFound"
	CodeUnauthorized         = "Unauthorized"
	CodeInvalidCredentials   = "InvalidCredentials"
	CodeInvalidGrantType     = "InvalidGrantType"
	CodeTooManyRequests      = "TooManyRequests"
	CodeServiceUnavailable   = "ServiceUnavailable"
	CodeMethodNotAllowed     = "MethodNotAllowed"
)

// apiError is one JSON:API error object plus its HTTP status. Handlers
// return it as an error; the dispatcher writes it as an error document.
type apiError struct {
	Status    int
	Code      string
	Title     string
	Detail    string
	Parameter string // source.parameter: the query parameter's wire name
	Pointer   string // source.pointer: a JSON pointer into the request body
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail) }

// errorList is several errors about one request (validation reports all).
type errorList []*apiError

func (l errorList) Error() string {
	if len(l) == 0 {
		return "no errors"
	}
	return l[0].Error()
}

func invalidParam(param, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusConflict, Code: CodeInvalidParameter, Title: "Invalid parameter",
		Detail: fmt.Sprintf(format, args...), Parameter: param}
}

func invalidBody(pointer, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusConflict, Code: CodeInvalidBodyParameter, Title: "Invalid body parameter",
		Detail: fmt.Sprintf(format, args...), Pointer: pointer}
}

func notFound(kind, id string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: CodeResourceNotFound, Title: "Resource not found",
		Detail: fmt.Sprintf("no %s with id %q", kind, id)}
}

func notFoundAt(pointer, detail string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: CodeResourceNotFound, Title: "Resource not found",
		Detail: detail, Pointer: pointer}
}

func unauthorized(detail string) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Title: "Unauthorized", Detail: detail}
}

type errorSource struct {
	Parameter string `json:"parameter,omitempty"`
	Pointer   string `json:"pointer,omitempty"`
}

type errorObject struct {
	Status string       `json:"status"`
	Code   string       `json:"code"`
	Title  string       `json:"title"`
	Detail string       `json:"detail,omitempty"`
	Source *errorSource `json:"source,omitempty"`
}

func (e *apiError) object() errorObject {
	o := errorObject{Status: strconv.Itoa(e.Status), Code: e.Code, Title: e.Title, Detail: e.Detail}
	if e.Parameter != "" || e.Pointer != "" {
		o.Source = &errorSource{Parameter: e.Parameter, Pointer: e.Pointer}
	}
	return o
}

// document is a JSON:API top-level document.
type document struct {
	Data     any               `json:"data,omitempty"`
	Included []json.RawMessage `json:"included,omitempty"`
	Links    map[string]string `json:"links,omitempty"`
	Errors   []errorObject     `json:"errors,omitempty"`
	Meta     map[string]any    `json:"meta"`
}

// object is a JSON:API resource object as answered.
type object struct {
	Type          string                  `json:"type"`
	ID            string                  `json:"id"`
	Attributes    map[string]any          `json:"attributes"`
	Relationships map[string]relationship `json:"relationships,omitempty"`
}

type relationship struct {
	Data any `json:"data"`
}

// identifier is a JSON:API resource identifier object.
type identifier struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// jsonPointer joins JSON pointer tokens, escaping "~" and "/".
func jsonPointer(tokens ...string) string {
	var b []byte
	for _, t := range tokens {
		b = append(b, '/')
		for i := 0; i < len(t); i++ {
			switch t[i] {
			case '~':
				b = append(b, '~', '0')
			case '/':
				b = append(b, '~', '1')
			default:
				b = append(b, t[i])
			}
		}
	}
	return string(b)
}

// marshalDoc encodes a document without HTML escaping (links keep their "&").
func marshalDoc(doc *document) ([]byte, error) {
	var buf jsonBuffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	return buf.b, nil
}

// marshalCompact encodes v without HTML escaping and without the newline.
func marshalCompact(v any) ([]byte, error) {
	var buf jsonBuffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.b[:len(buf.b)-1], nil
}

type jsonBuffer struct{ b []byte }

func (w *jsonBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
