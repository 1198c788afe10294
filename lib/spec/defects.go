package spec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Warning is a defect of the description that loading or generation worked
// around: where it is and what was done.
type Warning struct {
	Where string // e.g. "paths./x.get", "components.schemas.Pet.properties.name"
	What  string // e.g. `no operationId; named getX`
}

func (w Warning) String() string { return w.Where + ": " + w.What }

// warnings collects the Warnings of one load.
type warnings struct {
	list []Warning
	v2   bool // name places as Swagger 2.0 does
}

func (w *warnings) add(where, format string, args ...any) {
	w.list = append(w.list, Warning{Where: w.place(where), What: fmt.Sprintf(format, args...)})
}

// place turns a converted document's place back into the Swagger 2.0 one.
func (w *warnings) place(where string) string {
	if !w.v2 {
		return where
	}
	for _, r := range [][2]string{
		{"components.schemas.", "definitions."},
		{"components.parameters.", "parameters."},
		{"components.responses.", "responses."},
		{"components.securitySchemes.", "securityDefinitions."},
	} {
		if rest, ok := strings.CutPrefix(where, r[0]); ok {
			return r[1] + rest
		}
	}
	return where
}

// sorted returns the warnings in place order (stable within a place).
func (w *warnings) sorted() []Warning {
	out := slices.Clone(w.list)
	slices.SortStableFunc(out, func(a, b Warning) int { return strings.Compare(a.Where, b.Where) })
	return out
}

// repairRefs replaces each internal $ref that points to nothing with an
// empty schema (any value), or leaves it out of a parameter list, with a
// warning, and returns the document as JSON; nil when every $ref resolves
// (or the document is no JSON).
func repairRefs(jsonData []byte, w *warnings) []byte {
	dec := json.NewDecoder(bytes.NewReader(jsonData))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil
	}
	changed := false
	var walk func(at string, v any) any
	walk = func(at string, v any) any {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && strings.HasPrefix(ref, "#/") && resolve(root, ref) == nil {
				if strings.HasSuffix(strings.TrimRight(at, "0123456789]"), ".parameters[") { // an item of a parameter list
					w.add(at, "$ref %q points to nothing; parameter left out", ref)
				} else {
					w.add(at, "$ref %q points to nothing; read as any value", ref)
				}
				changed = true
				return map[string]any{}
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				next := k
				if at != "" {
					next = at + "." + k
				}
				v[k] = walk(next, v[k])
			}
		case []any:
			kept := v[:0]
			for i, item := range v {
				item = walk(fmt.Sprintf("%s[%d]", at, i), item)
				if m, ok := item.(map[string]any); ok && len(m) == 0 && strings.HasSuffix(at, ".parameters") {
					continue // a parameter that is nothing is no parameter
				}
				kept = append(kept, item)
			}
			return kept
		}
		return v
	}
	root = walk("", root)
	if !changed {
		return nil
	}
	out, err := json.Marshal(root)
	if err != nil {
		return nil
	}
	return out
}

// resolve follows an internal JSON pointer ("#/definitions/A") in root; nil
// when it leads nowhere.
func resolve(root any, ref string) any {
	cur := root
	for part := range strings.SplitSeq(strings.TrimPrefix(ref, "#/"), "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			cur = v[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return nil
			}
			cur = v[i]
		default:
			return nil
		}
		if cur == nil {
			return nil
		}
	}
	return cur
}

// repairSchemas drops the examples and defaults that do not validate against
// their schema, and the patterns that are no regular expression, and leaves
// the items of an array without items open. The generator uses none of
// these, so nothing is lost; published specs often carry them (an id string
// as the example of an object).
func repairSchemas(doc *openapi3.T, w *warnings) {
	r := &valueRepair{w: w, seen: map[*openapi3.Schema]bool{}}
	if doc.IsOpenAPI31OrLater() {
		r.opts = append(r.opts, openapi3.EnableJSONSchema2020())
	}
	if c := doc.Components; c != nil {
		for _, name := range slices.Sorted(maps.Keys(c.Schemas)) {
			r.schema("components.schemas."+name, c.Schemas[name])
		}
		for _, name := range slices.Sorted(maps.Keys(c.Parameters)) {
			if p := c.Parameters[name]; p != nil {
				r.parameter("components.parameters."+name, p.Value)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(c.RequestBodies)) {
			if b := c.RequestBodies[name]; b != nil && b.Value != nil {
				r.content("components.requestBodies."+name, b.Value.Content, openapi3.VisitAsRequest())
			}
		}
		for _, name := range slices.Sorted(maps.Keys(c.Responses)) {
			if resp := c.Responses[name]; resp != nil && resp.Value != nil {
				r.content("components.responses."+name, resp.Value.Content, openapi3.VisitAsResponse())
			}
		}
	}
	eachOperation(doc, func(path, method string, item *openapi3.PathItem, op *openapi3.Operation) {
		at := where(path, method)
		for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
			if p != nil && p.Value != nil {
				r.parameter(at+".parameters."+p.Value.Name, p.Value)
			}
		}
		if b := op.RequestBody; b != nil && b.Value != nil {
			r.content(at+".requestBody", b.Value.Content, openapi3.VisitAsRequest())
		}
		if op.Responses != nil {
			all := op.Responses.Map()
			for _, code := range slices.Sorted(maps.Keys(all)) {
				if resp := all[code]; resp != nil && resp.Value != nil {
					r.content(at+".responses."+code, resp.Value.Content, openapi3.VisitAsResponse())
				}
			}
		}
	})
}

type valueRepair struct {
	w    *warnings
	opts []openapi3.SchemaValidationOption
	seen map[*openapi3.Schema]bool // each schema is checked once, at its first place
}

// check tells why v does not validate against s, or "".
func (r *valueRepair) check(s *openapi3.Schema, v any, extra ...openapi3.SchemaValidationOption) string {
	err := s.VisitJSON(v, append(slices.Clone(r.opts), extra...)...)
	if err == nil {
		return ""
	}
	var me openapi3.MultiError
	if errors.As(err, &me) && len(me) > 0 {
		err = me[0]
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimPrefix(msg, "Error at ")
}

func (r *valueRepair) schema(at string, ref *openapi3.SchemaRef) {
	if ref == nil || ref.Value == nil || r.seen[ref.Value] {
		return
	}
	s := ref.Value
	r.seen[s] = true
	if s.Pattern != "" {
		if err := openapi3.NewStringSchema().WithPattern(s.Pattern).Validate(context.Background()); err != nil {
			r.w.add(at, "pattern %q is no regular expression; dropped", s.Pattern)
			s.Pattern = ""
		}
	}
	if s.Items == nil && slices.Contains(s.Type.Slice(), openapi3.TypeArray) {
		r.w.add(at, "array without items; its items are left open")
		s.Items = openapi3.NewSchemaRef("", &openapi3.Schema{})
	}
	if s.Example != nil {
		if why := r.check(s, s.Example); why != "" {
			r.w.add(at, "example does not match the schema (%s); dropped", why)
			s.Example = nil
		}
	}
	if s.Default != nil {
		if why := r.check(s, s.Default); why != "" {
			r.w.add(at, "default does not match the schema (%s); dropped", why)
			s.Default = nil
		}
	}
	if len(s.Examples) > 0 {
		kept := s.Examples[:0:0]
		for i, ex := range s.Examples {
			if why := r.check(s, ex); why != "" {
				r.w.add(at, "examples[%d] does not match the schema (%s); dropped", i, why)
				continue
			}
			kept = append(kept, ex)
		}
		s.Examples = kept
	}
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		r.schema(at+".properties."+name, s.Properties[name])
	}
	r.schema(at+".items", s.Items)
	r.schema(at+".additionalProperties", s.AdditionalProperties.Schema)
	r.schema(at+".not", s.Not)
	for kind, list := range map[string]openapi3.SchemaRefs{"allOf": s.AllOf, "oneOf": s.OneOf, "anyOf": s.AnyOf} {
		for i, part := range list {
			r.schema(fmt.Sprintf("%s.%s[%d]", at, kind, i), part)
		}
	}
}

func (r *valueRepair) parameter(at string, p *openapi3.Parameter) {
	if p == nil {
		return
	}
	var s *openapi3.Schema
	if p.Schema != nil && p.Schema.Value != nil {
		s = p.Schema.Value
		r.schema(at+".schema", p.Schema)
	}
	r.examples(at, s, &p.Example, p.Examples)
	for _, mt := range slices.Sorted(maps.Keys(p.Content)) {
		r.mediaType(at+".content."+mt, p.Content[mt])
	}
}

func (r *valueRepair) content(at string, content openapi3.Content, dir openapi3.SchemaValidationOption) {
	for _, mt := range slices.Sorted(maps.Keys(content)) {
		r.mediaType(at+".content."+mt, content[mt], dir)
	}
}

func (r *valueRepair) mediaType(at string, m *openapi3.MediaType, extra ...openapi3.SchemaValidationOption) {
	if m == nil {
		return
	}
	var s *openapi3.Schema
	if m.Schema != nil && m.Schema.Value != nil {
		s = m.Schema.Value
		r.schema(at+".schema", m.Schema)
	}
	r.examples(at, s, &m.Example, m.Examples, extra...)
}

// examples checks the example and named examples of a parameter or media
// type against its schema s (nil: nothing to check against).
func (r *valueRepair) examples(at string, s *openapi3.Schema, example *any, named openapi3.Examples, extra ...openapi3.SchemaValidationOption) {
	if s == nil {
		return
	}
	if *example != nil {
		if why := r.check(s, *example, extra...); why != "" {
			r.w.add(at, "example does not match the schema (%s); dropped", why)
			*example = nil
		}
	}
	for _, name := range slices.Sorted(maps.Keys(named)) {
		ex := named[name]
		if ex == nil || ex.Value == nil || ex.Value.Value == nil {
			continue
		}
		if why := r.check(s, ex.Value.Value, extra...); why != "" {
			r.w.add(at+".examples."+name, "example does not match the schema (%s); dropped", why)
			delete(named, name)
		}
	}
}

// repairDescriptions gives the responses without a description an empty
// one: the description is required, but says nothing the generator needs.
func repairDescriptions(doc *openapi3.T, w *warnings) {
	if c := doc.Components; c != nil {
		for _, name := range slices.Sorted(maps.Keys(c.Responses)) {
			if resp := c.Responses[name]; resp != nil && resp.Value != nil && resp.Value.Description == nil {
				w.add("components.responses."+name, "response has no description; left empty")
				resp.Value.Description = new(string)
			}
		}
	}
	eachOperation(doc, func(path, method string, _ *openapi3.PathItem, op *openapi3.Operation) {
		if op.Responses == nil {
			return
		}
		all := op.Responses.Map()
		for _, code := range slices.Sorted(maps.Keys(all)) {
			if resp := all[code]; resp != nil && resp.Ref == "" && resp.Value != nil && resp.Value.Description == nil {
				w.add(where(path, method)+".responses."+code, "response has no description; left empty")
				resp.Value.Description = new(string)
			}
		}
	})
}

// validate checks the document. Defects that do not stop anyone from
// calling the API become warnings: conflicting path templates (the
// generator routes nothing), OpenAPI 3.1 keywords in a 3.0 document (read
// as 3.1). An operation with any other defect is left out, with a warning;
// what remains ends the load. Examples and defaults were checked already
// (repairValues), and duplicate operation ids are renamed by build.
func validate(doc *openapi3.T, w *warnings) (leftOut map[string]string, err error) {
	verr := doc.Validate(context.Background(), openapi3.EnableMultiError(),
		openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation())
	if verr == nil {
		return nil, nil
	}
	var list openapi3.MultiError
	if !errors.As(verr, &list) {
		list = openapi3.MultiError{verr}
	}
	leftOut = map[string]string{}
	var fatal []string
	for _, e := range list {
		at, what := locate(e)
		var (
			conflict *openapi3.ConflictingPathsError
			dupID    *openapi3.DuplicateOperationIDError
			version  *openapi3.FieldVersionMismatchError
			params   *openapi3.PathParametersError
		)
		switch {
		case errors.As(e, &dupID):
		case errors.As(e, &params):
			key := where(params.Path, params.Method)
			if _, dup := leftOut[key]; !dup {
				leftOut[key] = fmt.Sprintf("path parameters %v are not declared, or not in the template", params.Missing)
			}
		case errors.As(e, &conflict):
			w.add("paths."+conflict.Path2, "a router would call this template the same as %s; kept (the generator routes nothing)", conflict.Path1)
		case errors.As(e, &version) && version.MinVersion == "3.1" && doc.IsOpenAPI30():
			w.add(at, "%s; read as OpenAPI 3.1", what)
		case strings.HasPrefix(at, "paths.") && operationKey(e) != "paths":
			key := operationKey(e)
			if _, dup := leftOut[key]; !dup {
				if rel, ok := strings.CutPrefix(at, key+"."); ok {
					what = rel + ": " + what
				}
				leftOut[key] = what
			}
		default:
			fatal = append(fatal, w.place(at)+": "+what)
		}
	}
	if len(fatal) > 0 {
		if len(fatal) > 5 {
			fatal = append(fatal[:5], fmt.Sprintf("and %d more", len(fatal)-5))
		}
		return nil, fmt.Errorf("invalid spec: %s", strings.Join(fatal, "; "))
	}
	return leftOut, nil
}

// locate names the place of a validation error from its context wrappers
// ("paths./x.get", "components.schemas.Pet") and says what is wrong there.
func locate(err error) (at, what string) {
	var parts []string
	cur := err
	for cur != nil {
		switch e := cur.(type) {
		case *openapi3.SectionValidationError:
			parts = append(parts, e.Section)
		case *openapi3.PathValidationError:
			parts = append(parts, e.Path)
		case *openapi3.OperationValidationError:
			parts = append(parts, strings.ToLower(e.Method))
		case *openapi3.ComponentValidationError:
			parts = append(parts, componentKey(e.Section), e.Name)
		case *openapi3.ParameterFieldValidationError:
			parts = append(parts, "parameters", e.ParameterName)
		default:
			msg, _, _ := strings.Cut(cur.Error(), "\n")
			return strings.Join(parts, "."), msg
		}
		cur = errors.Unwrap(cur)
	}
	return strings.Join(parts, "."), "invalid"
}

// operationKey is "paths./x.get" for an error inside an operation, else
// "paths./x" for one of the path item.
func operationKey(err error) string {
	var (
		p  *openapi3.PathValidationError
		op *openapi3.OperationValidationError
	)
	errors.As(err, &p)
	if p == nil {
		return "paths"
	}
	if errors.As(err, &op) {
		return where(p.Path, op.Method)
	}
	return "paths." + p.Path
}

// componentKey is the components member of kin-openapi's component section
// names ("request body" → "requestBodies").
func componentKey(section string) string {
	switch section {
	case "request body":
		return "requestBodies"
	case "security scheme":
		return "securitySchemes"
	}
	return section + "s"
}

// eachOperation calls fn for every operation, in path then method order.
func eachOperation(doc *openapi3.T, fn func(path, method string, item *openapi3.PathItem, op *openapi3.Operation)) {
	if doc.Paths == nil {
		return
	}
	paths := doc.Paths.Map()
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		item := paths[path]
		if item == nil {
			continue
		}
		ops := item.Operations()
		for _, method := range slices.Sorted(maps.Keys(ops)) {
			fn(path, method, item, ops[method])
		}
	}
}
