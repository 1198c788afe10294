package gen

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fitbitplus/connector/lib/manifest"
	"github.com/fitbitplus/connector/lib/spec"
)

// BodyField is the input field that holds the request document.
const BodyField = "requestBody"

// HeadersField is the input object that holds header parameters.
const HeadersField = "headers"

// inputs names the input field of every parameter and builds metadata.in:
// an object whose properties are the path parameters by name, the query
// parameters nested at their brackets, the header parameters under
// "headers" and the request document as "requestBody".
func inputs(op *spec.Operation) ([]param, *manifest.Schema, error) {
	root := &manifest.Schema{Type: "object", Properties: map[string]*manifest.Schema{}}
	owners := map[string]string{} // dotted field (leaf or object) → wire name that created it
	params := make([]param, 0, len(op.Params))
	for _, p := range op.Params {
		path, err := fieldPath(p)
		if err != nil {
			return nil, nil, fmt.Errorf("parameter %q: %w", p.Name, err)
		}
		leaf := paramSchema(p)
		if err := insert(root, owners, path, leaf, p.Name); err != nil {
			return nil, nil, fmt.Errorf("parameter %q: %w", p.Name, err)
		}
		params = append(params, param{Param: p, field: strings.Join(path, ".")})
	}
	if op.Body != nil {
		if owner, clash := owners[BodyField]; clash {
			return nil, nil, fmt.Errorf("parameter %q: input field %q is the request body's", owner, BodyField)
		}
		root.Properties[BodyField] = bodySchema(op.Body)
	}
	return params, root, nil
}

// fieldPath is the input field of a parameter, as path segments.
func fieldPath(p *spec.Param) ([]string, error) {
	var path []string
	switch p.In {
	case "header":
		path = []string{HeadersField, p.Name}
	case "query":
		path = splitBrackets(p.Name)
	default:
		path = []string{p.Name}
	}
	for _, seg := range path {
		if seg == "" || strings.Contains(seg, ".") {
			return nil, fmt.Errorf("cannot be an input field: empty or dotted segment in %q", p.Name)
		}
	}
	return path, nil
}

// splitBrackets splits "filter[identifier][system]" into its segments. A name
// that is not of that shape is one segment.
func splitBrackets(name string) []string {
	base, rest, ok := strings.Cut(name, "[")
	if !ok || base == "" || !strings.HasSuffix(rest, "]") {
		return []string{name}
	}
	parts := strings.Split(strings.TrimSuffix(rest, "]"), "][")
	for _, part := range parts {
		if part == "" || strings.ContainsAny(part, "[]") {
			return []string{name}
		}
	}
	return append([]string{base}, parts...)
}

// insert places leaf at path under root, creating intermediate objects. An
// intermediate object is required when one of its fields is.
func insert(root *manifest.Schema, owners map[string]string, path []string, leaf *manifest.Schema, wire string) error {
	node := root
	for i, seg := range path {
		key := strings.Join(path[:i+1], ".")
		last := i == len(path)-1
		child, exists := node.Properties[seg]
		switch {
		case exists && (last || child.Type != "object" || owners[key] != ""):
			return fmt.Errorf("input field %q clashes with parameter %q", key, ownerOf(owners, key))
		case last:
			owners[key] = wire
			node.Properties[seg] = leaf
			return nil
		case !exists:
			child = &manifest.Schema{Type: "object", Title: seg, Properties: map[string]*manifest.Schema{}}
			owners[key] = ""
			node.Properties[seg] = child
		}
		child.Required = child.Required || leaf.Required
		node = child
	}
	return errors.New("empty input field")
}

func ownerOf(owners map[string]string, key string) string {
	if o := owners[key]; o != "" {
		return o
	}
	for _, k := range slices.Sorted(maps.Keys(owners)) {
		if o := owners[k]; o != "" && strings.HasPrefix(k, key+".") {
			return o
		}
	}
	return key
}

// paramSchema is the input field of one parameter: its schema in the
// platform's dialect, titled with the wire name, described by the
// parameter's description.
func paramSchema(p *spec.Param) *manifest.Schema {
	s := convertSchema(p.Schema, input)
	if s.Type == "" {
		s.Type = p.Type()
	}
	s.Title = p.Name
	s.Description = firstNonEmpty(cleanText(p.Description), s.Description)
	s.Required = p.Required
	return s
}

func bodySchema(b *spec.Body) *manifest.Schema {
	s := convertSchema(b.Schema, input)
	if b.Schema == nil {
		s.Type = "object"
	}
	s.Title = firstNonEmpty(s.Title, "Request body")
	s.Description = firstNonEmpty(cleanText(b.Description), s.Description)
	s.Required = b.Required
	return s
}

// outputs is metadata.out: the success response's schema in the platform's
// dialect, or an empty object when the response has no body.
func outputs(op *spec.Operation) *manifest.Schema {
	r := op.Response
	switch {
	case r == nil:
		return &manifest.Schema{Type: "object", Description: "The API documents no success response for this operation."}
	case r.Schema == nil:
		return &manifest.Schema{Type: "object", Description: "The response has no body."}
	}
	s := convertSchema(r.Schema, output)
	s.Description = firstNonEmpty(s.Description, cleanText(r.Description))
	return s
}
