package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// validator checks requests against the spec (Swagger 2.0, converted to
// OpenAPI 3, routed with the server URL set to BasePath).
type validator struct {
	router routers.Router
	opts   *openapi3filter.Options
}

// newValidator loads a Swagger 2.0 document. It returns nil, nil for a
// document without paths (the placeholder "{}"): nothing to validate.
func newValidator(spec []byte) (*validator, error) {
	var doc2 openapi2.T
	if err := json.Unmarshal(spec, &doc2); err != nil {
		return nil, fmt.Errorf("parse swagger 2.0: %w", err)
	}
	if len(doc2.Paths) == 0 {
		return nil, nil
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("convert to openapi 3: %w", err)
	}
	doc3.Servers = openapi3.Servers{{URL: BasePath}}
	if err := doc3.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate spec: %w", err)
	}
	router, err := gorillamux.NewRouter(doc3)
	if err != nil {
		return nil, fmt.Errorf("build router: %w", err)
	}
	return &validator{router: router, opts: &openapi3filter.Options{
		MultiError:          true,
		SkipSettingDefaults: true,
		AuthenticationFunc:  func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
	}}, nil
}

// validate checks one request; the body was read already. A request the
// spec has no route for is left to the sandbox's own routing.
func (v *validator) validate(r *http.Request, body []byte) error {
	if v == nil {
		return nil
	}
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return nil
	}
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: v.opts}
	err = openapi3filter.ValidateRequest(r.Context(), in)
	if err == nil {
		return nil
	}
	var list errorList
	for _, e := range flatten(err) {
		list = append(list, toAPIError(e))
	}
	if len(list) == 0 {
		return invalidParam("", "request does not match the API description")
	}
	return list
}

// flatten unpacks MultiErrors, also one inside a RequestError (one
// RequestError per schema error, so each gets its own source).
func flatten(err error) []error {
	if me, ok := err.(openapi3.MultiError); ok {
		var out []error
		for _, e := range me {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if re, ok := err.(*openapi3filter.RequestError); ok {
		if me, ok := re.Err.(openapi3.MultiError); ok && len(me) > 0 {
			var out []error
			for _, e := range me {
				cp := *re
				cp.Err = e
				out = append(out, flatten(&cp)...)
			}
			return out
		}
	}
	return []error{err}
}

// toAPIError maps a kin-openapi error to a JSON:API 409 error with source.
func toAPIError(err error) *apiError {
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return invalidParam("", "%s", firstLine(err.Error()))
	}
	if re.Parameter != nil {
		return invalidParam(re.Parameter.Name, "parameter %s: %s", re.Parameter.Name, reason(re))
	}
	pointer := ""
	why := reason(re)
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		pointer = jsonPointer(se.JSONPointer()...)
		// An allOf failure says only that; the part that failed says what.
		for se.SchemaField == "allOf" {
			var inner *openapi3.SchemaError
			if se.Origin == nil || !errors.As(se.Origin, &inner) {
				break
			}
			if p := jsonPointer(inner.JSONPointer()...); len(p) > len(pointer) {
				pointer = p // the part's pointer is from the document's root
			}
			se = inner
			if se.Reason != "" {
				why = se.Reason
			}
		}
		if se.SchemaField == "required" && se.Reason != "" {
			// kin-openapi reports a missing property at its parent; point at it.
			if name, ok := missingProperty(se.Reason); ok && !strings.HasSuffix(pointer, jsonPointer(name)) {
				pointer += jsonPointer(name)
			}
		}
	}
	if pointer == "" {
		pointer = "/"
	}
	return invalidBody(pointer, "request body: %s", why)
}

// reason is the short, value-free description of a validation error.
func reason(re *openapi3filter.RequestError) string {
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		if se.Reason != "" {
			return se.Reason
		}
		return "does not match schema " + se.SchemaField
	}
	if re.Err != nil {
		return firstLine(re.Err.Error())
	}
	return re.Reason
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// missingProperty reads the name out of `property "x" is missing`.
func missingProperty(reason string) (string, bool) {
	const prefix = `property "`
	i := strings.Index(reason, prefix)
	if i < 0 {
		return "", false
	}
	rest := reason[i+len(prefix):]
	j := strings.Index(rest, `"`)
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}
