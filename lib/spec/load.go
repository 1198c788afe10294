package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oasdiff/yaml"
)

// Load parses, converts and validates an API description and returns its
// model. data is Swagger 2.0, OpenAPI 3.0 or 3.1, as JSON or YAML; $refs
// must be internal.
//
// Defects met in published specs do not end the load: each is worked
// around and becomes one of Doc.Warnings, naming the place and what was
// done (see defects.go). An operation that cannot be modelled is left out
// with a warning. Only a document that cannot be read at all is an error.
func Load(data []byte) (*Doc, error) {
	jsonData, err := toJSON(data)
	if err != nil {
		return nil, err
	}
	var head struct {
		Swagger string `json:"swagger"`
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal(jsonData, &head); err != nil {
		return nil, fmt.Errorf("parse spec: %w", err)
	}
	w := &warnings{v2: head.Swagger == "2.0"}
	doc, hints, err := loadDoc(head.Swagger, head.OpenAPI, data, jsonData, w)
	if err != nil && !errors.Is(err, errUnsupported) {
		// A $ref to nothing ends kin-openapi's load; read it as any value.
		retry := &warnings{v2: w.v2}
		if fixed := repairRefs(jsonData, retry); fixed != nil {
			if doc, hints, err = loadDoc(head.Swagger, head.OpenAPI, data, fixed, retry); err == nil {
				w = retry
			}
		}
	}
	if err != nil {
		return nil, err
	}
	repairSchemas(doc, w)
	repairDescriptions(doc, w)
	leftOut, err := validate(doc, w)
	if err != nil {
		return nil, err
	}
	version := head.Swagger
	if version == "" {
		version = head.OpenAPI
	}
	d := build(doc, version, hints, leftOut, w)
	d.Warnings = w.sorted()
	return d, nil
}

// errUnsupported marks a document of a version Load does not read.
var errUnsupported = errors.New("not supported")

// loadDoc loads a document of the given version (swagger or openapi field)
// as OpenAPI 3; data is the source (for the media type order), jsonData the
// document as JSON.
func loadDoc(swagger, openAPI string, data, jsonData []byte, w *warnings) (*openapi3.T, mediaHints, error) {
	switch {
	case swagger == "2.0":
		return loadV2(jsonData, w)
	case strings.HasPrefix(openAPI, "3.0.") || strings.HasPrefix(openAPI, "3.1."):
		return loadV3(data, jsonData)
	case swagger != "":
		return nil, nil, fmt.Errorf("swagger: version %q is %w (want 2.0, 3.0.x or 3.1.x)", swagger, errUnsupported)
	case openAPI != "":
		return nil, nil, fmt.Errorf("openapi: version %q is %w (want 2.0, 3.0.x or 3.1.x)", openAPI, errUnsupported)
	}
	return nil, nil, fmt.Errorf("not a Swagger 2.0 or OpenAPI 3 document: no swagger or openapi field: %w", errUnsupported)
}

// toJSON returns data as JSON, converting YAML.
func toJSON(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return data, nil
	}
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("parse spec: %w", err)
	}
	return j, nil
}

// loadV2 converts a Swagger 2.0 document to OpenAPI 3. An operation that
// does not convert (two body parameters, a malformed formData parameter) is
// left out, with a warning.
func loadV2(data []byte, w *warnings) (*openapi3.T, mediaHints, error) {
	var doc2 openapi2.T
	if err := json.Unmarshal(data, &doc2); err != nil {
		return nil, nil, fmt.Errorf("parse spec: %w", err)
	}
	for _, path := range slices.Sorted(maps.Keys(doc2.Paths)) {
		item := doc2.Paths[path]
		ops := item.Operations()
		for _, method := range slices.Sorted(maps.Keys(ops)) {
			err := convertV2(func() error {
				_, err := openapi2conv.ToV3Operation(&openapi3.Components{}, item, ops[method], doc2.Consumes)
				return err
			})
			if err != nil {
				w.add(where(path, method), "left out: %v", err)
				item.SetOperation(method, nil)
			}
		}
	}
	var doc *openapi3.T
	err := convertV2(func() (err error) {
		doc, err = openapi2conv.ToV3(&doc2)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("convert swagger 2.0: %w", err)
	}
	return doc, v2Hints(&doc2), nil
}

// convertV2 runs one openapi2conv conversion, which panics on some malformed
// formData parameters.
func convertV2(convert func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return convert()
}

func loadV3(data, jsonData []byte) (*openapi3.T, mediaHints, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(jsonData)
	if err != nil {
		return nil, nil, fmt.Errorf("load openapi 3: %w", err)
	}
	hints, err := v3Hints(data)
	if err != nil {
		return nil, nil, err
	}
	return doc, hints, nil
}

func where(path, method string) string {
	return "paths." + path + "." + strings.ToLower(method)
}

func build(doc *openapi3.T, version string, hints mediaHints, leftOut map[string]string, w *warnings) *Doc {
	d := &Doc{SpecVersion: version}
	if doc.Info != nil {
		d.Title, d.Description, d.Version = doc.Info.Title, doc.Info.Description, doc.Info.Version
	}
	d.Servers = serverURLs(doc.Servers)
	if doc.Components != nil {
		for _, s := range doc.Components.SecuritySchemes {
			if s.Value != nil && s.Value.Type == "oauth2" {
				d.OAuth2 = true
			}
		}
	}
	byID := map[string]*Operation{}
	eachOperation(doc, func(path, method string, item *openapi3.PathItem, o *openapi3.Operation) {
		at := where(path, method)
		why, out := leftOut[at]
		if !out {
			why, out = leftOut["paths."+path]
		}
		if out {
			w.add(at, "left out: %s", why)
			return
		}
		op, err := buildOperation(doc, path, method, item, o, version == "2.0", hints, w)
		if err != nil {
			w.add(at, "left out: %v", err)
			return
		}
		if op.IDDerived {
			w.add(at, "no operationId; named %s", op.ID)
		}
		if other, ok := byID[op.ID]; ok {
			id := uniqueID(DeriveID(method, path), byID)
			w.add(at, "operationId %q is also the id of %s; named %s", op.ID, other.Where(), id)
			op.ID, op.IDDerived = id, true
		}
		byID[op.ID] = op
		d.Operations = append(d.Operations, op)
	})
	slices.SortFunc(d.Operations, func(a, b *Operation) int { return strings.Compare(a.ID, b.ID) })
	return d
}

// uniqueID is id, or id with the lowest numeric suffix from 2 that no
// operation has.
func uniqueID(id string, taken map[string]*Operation) string {
	if taken[id] == nil {
		return id
	}
	for n := 2; ; n++ {
		if c := id + strconv.Itoa(n); taken[c] == nil {
			return c
		}
	}
}

func buildOperation(doc *openapi3.T, path, method string, item *openapi3.PathItem, o *openapi3.Operation, v2 bool, hints mediaHints, w *warnings) (*Operation, error) {
	op := &Operation{
		ID:          o.OperationID,
		Method:      method,
		Path:        path,
		Summary:     o.Summary,
		Description: o.Description,
		Deprecated:  o.Deprecated,
	}
	if op.ID == "" {
		op.ID, op.IDDerived = DeriveID(method, path), true
	}
	params, err := mergeParams(item.Parameters, o.Parameters, v2, func(p *openapi3.Parameter, err error) {
		w.add(op.Where(), "optional parameter %q left out: %v", p.Name, err)
	})
	if err != nil {
		return nil, err
	}
	op.Params = params

	security := doc.Security
	if o.Security != nil {
		security = *o.Security
	}
	for _, req := range security {
		if len(req) > 0 {
			op.Secured = true
		}
	}

	if rb := o.RequestBody; rb != nil && rb.Value != nil {
		mediaTypes := hints.body(path, method, rb.Value.Content)
		op.Body = &Body{
			Description: rb.Value.Description,
			Required:    rb.Value.Required,
			MediaTypes:  mediaTypes,
			Schema:      firstSchema(rb.Value.Content, mediaTypes),
		}
	}
	op.Response = successResponse(path, method, o.Responses, hints)
	return op, nil
}

// mergeParams joins path-level and operation parameters by (name, in); an
// operation parameter replaces the path-level one in place. An optional
// parameter the model cannot hold is passed to drop and left out; a
// required one is an error.
func mergeParams(pathLevel, opLevel openapi3.Parameters, v2 bool, drop func(*openapi3.Parameter, error)) ([]*Param, error) {
	var out []*Param
	index := map[string]int{}
	for _, refs := range []openapi3.Parameters{pathLevel, opLevel} {
		for _, ref := range refs {
			if ref == nil || ref.Value == nil {
				return nil, errors.New("parameter: unresolved reference")
			}
			p, err := newParam(ref.Value, v2)
			if err != nil && !ref.Value.Required && ref.Value.In != openapi3.ParameterInPath {
				drop(ref.Value, err)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("parameter %q: %w", ref.Value.Name, err)
			}
			key := p.In + " " + p.Name
			if i, ok := index[key]; ok {
				out[i] = p
				continue
			}
			index[key] = len(out)
			out = append(out, p)
		}
	}
	return out, nil
}

func newParam(v *openapi3.Parameter, v2 bool) (*Param, error) {
	switch v.In {
	case openapi3.ParameterInPath, openapi3.ParameterInQuery, openapi3.ParameterInHeader:
	default:
		return nil, fmt.Errorf("location %q is not supported (want path, query or header)", v.In)
	}
	if v.Schema == nil || v.Schema.Value == nil {
		return nil, errors.New("no schema")
	}
	p := &Param{
		Name:        v.Name,
		In:          v.In,
		Description: v.Description,
		Required:    v.Required || v.In == openapi3.ParameterInPath,
		Schema:      v.Schema,
	}
	switch t := p.Type(); t {
	case "string", "integer", "number", "boolean":
	case "array":
		if it := p.ItemsType(); it == "array" || it == "object" {
			return nil, fmt.Errorf("array of %s is not supported", it)
		}
		p.Collection = collection(v, v2)
	default:
		return nil, fmt.Errorf("type %s is not supported", t)
	}
	return p, nil
}

// collection tells how an array parameter is serialised. Swagger 2.0 arrays
// without a collectionFormat are csv; OpenAPI 3 follows style and explode.
func collection(v *openapi3.Parameter, v2 bool) string {
	explode := v.Explode == nil || *v.Explode // form's default
	switch v.Style {
	case "":
		if v2 || v.In != openapi3.ParameterInQuery {
			return "csv"
		}
		if explode {
			return "multi"
		}
		return "csv"
	case openapi3.SerializationForm:
		if explode {
			return "multi"
		}
		return "csv"
	case openapi3.SerializationSpaceDelimited:
		return "ssv"
	case openapi3.SerializationPipeDelimited:
		return "pipes"
	default:
		return "csv"
	}
}

// successResponse picks the lowest explicit 2xx response, else "2XX", else
// "default".
func successResponse(path, method string, responses *openapi3.Responses, hints mediaHints) *Response {
	if responses == nil {
		return nil
	}
	all := responses.Map()
	code, key := 0, ""
	for k := range all {
		n, err := strconv.Atoi(k)
		if err == nil && n >= 200 && n < 300 && (key == "" || n < code) {
			code, key = n, k
		}
	}
	if key == "" {
		switch {
		case all["2XX"] != nil:
			code, key = 200, "2XX"
		case all["default"] != nil:
			key = "default"
		default:
			return nil
		}
	}
	ref := all[key]
	if ref == nil || ref.Value == nil {
		return nil
	}
	r := &Response{Code: code, MediaTypes: hints.response(path, method, key, ref.Value.Content)}
	if ref.Value.Description != nil {
		r.Description = *ref.Value.Description
	}
	r.Schema = firstSchema(ref.Value.Content, r.MediaTypes)
	return r
}

func firstSchema(content openapi3.Content, order []string) *openapi3.SchemaRef {
	for _, mt := range order {
		if m := content[mt]; m != nil && m.Schema != nil {
			return m.Schema
		}
	}
	for _, mt := range slices.Sorted(maps.Keys(content)) {
		if m := content[mt]; m != nil && m.Schema != nil {
			return m.Schema
		}
	}
	return nil
}

func serverURLs(servers openapi3.Servers) []string {
	var out []string
	for _, s := range servers {
		if s == nil {
			continue
		}
		u := s.URL
		for name, v := range s.Variables {
			if v != nil {
				u = strings.ReplaceAll(u, "{"+name+"}", v.Default)
			}
		}
		if parsed, err := url.Parse(u); err == nil && parsed.Scheme != "" && parsed.Host != "" {
			out = append(out, u)
		}
	}
	return out
}
