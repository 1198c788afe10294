package gen

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"

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
//
// A wire name that is no field path as it is becomes one, with a warning:
// characters other than letters, digits, "_" and "-" (a dot, a stray
// bracket) become "_" ("dateRange.startDate" → dateRange_startDate). A
// field that another parameter or the request body has already taken is
// flattened to one segment, then prefixed with the location
// (query_requestBody), then numbered.
func inputs(op *spec.Operation, warn warnFunc) ([]param, *manifest.Schema) {
	root := &manifest.Schema{Type: "object", Properties: map[string]*manifest.Schema{}}
	owners := map[string]string{} // dotted field (leaf or object) → wire name that created it
	if op.Body != nil {
		owners[BodyField] = BodyField
		body := bodySchema(op.Body)
		if name := dataIDParam(op); name != "" {
			// The action fills data.id in from the path (rest.Body.IDParam).
			if data := body.Properties["data"]; data != nil && data.Properties["id"] != nil {
				id := data.Properties["id"]
				id.Required = false
				id.Description = strings.TrimSpace(id.Description + "\n\nFilled in from " + name + " when left out; must equal it.")
			}
		}
		root.Properties[BodyField] = body
	}
	params := make([]param, 0, len(op.Params))
	for _, p := range op.Params {
		leaf := paramSchema(p)
		path := fieldPath(p)
		if clean := cleanPath(path); !slices.Equal(clean, path) {
			warn(op.Where(), "parameter %q becomes field %s", p.Name, strings.Join(clean, "."))
			path = clean
		}
		err := insert(root, owners, path, leaf, p.Name)
		for n, base := 0, path; err != nil; n++ {
			alt := alternative(p, base, n)
			warn(op.Where(), "parameter %q: %v; becomes field %s", p.Name, err, strings.Join(alt, "."))
			path = alt
			err = insert(root, owners, path, leaf, p.Name)
		}
		params = append(params, param{Param: p, field: strings.Join(path, ".")})
	}
	return params, root
}

// fieldPath is the input field of a parameter, as path segments.
func fieldPath(p *spec.Param) []string {
	switch p.In {
	case "header":
		return []string{HeadersField, p.Name}
	case "query":
		return splitBrackets(p.Name)
	default:
		return []string{p.Name}
	}
}

// cleanPath makes every segment a field name: runs of characters other than
// letters, digits, "_" and "-" become "_", and are dropped at either end
// ("ids[]" → ids); a segment with nothing left becomes "_".
func cleanPath(path []string) []string {
	out := make([]string, len(path))
	for i, seg := range path {
		out[i] = cleanSegment(seg)
	}
	return out
}

func cleanSegment(seg string) string {
	var b strings.Builder
	gap := false // characters replaced since the last one kept
	for _, r := range seg {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' {
			gap = true
			continue
		}
		if gap && b.Len() > 0 {
			b.WriteByte('_')
		}
		gap = false
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// alternative is the n-th field tried for a parameter whose field path is
// taken: the path flattened to one segment (filter_a), then prefixed with
// the location (query_filter_a), then numbered. A header stays under
// headers, numbered.
func alternative(p *spec.Param, path []string, n int) []string {
	if p.In == "header" {
		return []string{HeadersField, path[len(path)-1] + "_" + strconv.Itoa(n+2)}
	}
	flat := strings.Join(path, "_")
	if len(path) == 1 {
		n++ // flattening changes nothing
	}
	switch n {
	case 0:
		return []string{flat}
	case 1:
		return []string{p.In + "_" + flat}
	}
	return []string{p.In + "_" + flat + "_" + strconv.Itoa(n)}
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
			return fmt.Errorf("input field %s is taken by %s", key, ownerOf(owners, key))
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

// ownerOf names what holds the field key: the request body or a parameter.
func ownerOf(owners map[string]string, key string) string {
	o := owners[key]
	for _, k := range slices.Sorted(maps.Keys(owners)) {
		if o == "" && owners[k] != "" && strings.HasPrefix(k, key+".") {
			o = owners[k]
		}
	}
	if key == BodyField && o == BodyField {
		return "the request body"
	}
	return fmt.Sprintf("parameter %q", o)
}

// dataIDParam names the path parameter that is the data.id of a PATCH
// document (the last template of the path, when the document's data has an
// id), or "".
func dataIDParam(op *spec.Operation) string {
	if op.Method != "PATCH" || op.Body == nil || op.Body.Schema == nil || op.Body.Schema.Value == nil {
		return ""
	}
	data := flattenAllOf(op.Body.Schema.Value).Properties["data"]
	if data == nil || data.Value == nil || flattenAllOf(data.Value).Properties["id"] == nil {
		return ""
	}
	i := strings.LastIndex(op.Path, "{")
	if i < 0 || !strings.HasSuffix(op.Path, "}") {
		return ""
	}
	name := op.Path[i+1 : len(op.Path)-1]
	for _, p := range op.Params {
		if p.In == "path" && p.Name == name {
			return name
		}
	}
	return ""
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
