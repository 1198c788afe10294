package gen

import (
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/fitbitplus/connector/lib/manifest"
	"github.com/fitbitplus/connector/lib/spec"
	"github.com/getkin/kin-openapi/openapi3"
)

// direction says which side of an action a schema describes.
type direction int

const (
	input  direction = iota // metadata.in: readOnly properties and defaults left out
	output                  // metadata.out: writeOnly properties left out
)

// maxDepth bounds the nesting of a converted schema; deeper parts (and any
// $ref cycle) are cut with a description instead of properties.
const maxDepth = 32

// converter turns OpenAPI schemas into the platform's dialect:
//   - $refs are inlined (the platform supports no external references); a
//     schema met again inside itself (a $ref cycle) is cut: it keeps its type
//     and gets a description instead of its properties;
//   - allOf is merged: properties united (a property in several parts is
//     merged the same way), required lists united, the first title,
//     description, type and format win;
//   - a boolean "required" on each property replaces the required array;
//   - oneOf/anyOf: when every alternative is an object, the result is one
//     object with the properties of all (required only where every
//     alternative requires them); when the alternatives are one object shape
//     and arrays of it, the result is the array (the most general form: it
//     holds one or many); anything else stays untyped with a description
//     naming the alternatives. A schema without type that has both
//     properties and items (Swagger 2's spelling of "one or many") is
//     likewise the array;
//   - kept: type, title, description, enum, format, minimum, maximum,
//     maxLength, items, properties. Dropped: defaults, examples, patterns,
//     additionalProperties, nullable, discriminators.
type converter struct {
	dir   direction
	stack []*openapi3.Schema // schemas being converted, for the cycle guard
}

func convertSchema(ref *openapi3.SchemaRef, dir direction) *manifest.Schema {
	c := &converter{dir: dir}
	return c.convert(ref)
}

func (c *converter) convert(ref *openapi3.SchemaRef) *manifest.Schema {
	if ref == nil || ref.Value == nil {
		return &manifest.Schema{}
	}
	// A schema is also what its allOf parts are: meeting any of them again
	// inside is a cycle.
	ids := identities(ref, nil)
	for _, id := range ids {
		if slices.Contains(c.stack, id.Value) {
			return cut(id, ref.Value)
		}
	}
	if len(c.stack) >= maxDepth {
		return cut(ref, ref.Value)
	}
	n := len(c.stack)
	for _, id := range ids {
		c.stack = append(c.stack, id.Value)
	}
	defer func() { c.stack = c.stack[:n] }()

	v := flattenAllOf(ref.Value)
	if alts := append(slices.Clone(v.OneOf), v.AnyOf...); len(alts) > 0 && len(v.Properties) == 0 && v.Items == nil {
		s := c.alternatives(alts)
		s.Title = firstNonEmpty(cleanText(v.Title), s.Title)
		s.Description = firstNonEmpty(cleanText(v.Description), s.Description)
		return s
	}
	if implicitOneOrMany(v) {
		return &manifest.Schema{
			Type:        "array",
			Title:       cleanText(v.Title),
			Description: cleanText(v.Description),
			Items:       c.convert(v.Items),
		}
	}
	s := &manifest.Schema{
		Type:        schemaType(v),
		Title:       cleanText(v.Title),
		Description: cleanText(v.Description),
		Enum:        slices.Clone(v.Enum),
		Format:      v.Format,
		Minimum:     v.Min,
		Maximum:     v.Max,
		MaxLength:   v.MaxLength,
	}
	if v.Items != nil {
		s.Items = c.convert(v.Items)
	}
	for _, name := range slices.Sorted(maps.Keys(v.Properties)) {
		prop := v.Properties[name]
		if c.skipped(prop) {
			continue
		}
		p := c.convert(prop)
		p.Required = slices.Contains(v.Required, name)
		if s.Properties == nil {
			s.Properties = map[string]*manifest.Schema{}
		}
		s.Properties[name] = p
	}
	return s
}

// implicitOneOrMany tells whether v is the Swagger 2 way of writing "an
// object or an array of them": no type, with both properties and items.
func implicitOneOrMany(v *openapi3.Schema) bool {
	return spec.FirstType(v.Type) == "" && len(v.Properties) > 0 && v.Items != nil
}

// skipped tells whether a property is left out in this direction.
func (c *converter) skipped(prop *openapi3.SchemaRef) bool {
	if prop == nil || prop.Value == nil {
		return false
	}
	v := flattenAllOf(prop.Value)
	return (c.dir == input && v.ReadOnly) || (c.dir == output && v.WriteOnly)
}

// identities lists ref and, transitively, its allOf parts.
func identities(ref *openapi3.SchemaRef, seen []*openapi3.SchemaRef) []*openapi3.SchemaRef {
	for _, s := range seen {
		if s.Value == ref.Value {
			return seen
		}
	}
	seen = append(seen, ref)
	for _, part := range ref.Value.AllOf {
		if part != nil && part.Value != nil {
			seen = identities(part, seen)
		}
	}
	return seen
}

// cut stands in for schema v, met again inside itself (as the schema of
// ref), or too deep: it keeps v's type and title and says why it stops.
func cut(ref *openapi3.SchemaRef, v *openapi3.Schema) *manifest.Schema {
	v = flattenAllOf(v)
	name := "the enclosing structure"
	if i := strings.LastIndex(ref.Ref, "/"); i >= 0 {
		name = ref.Ref[i+1:]
	}
	return &manifest.Schema{
		Type:        schemaType(v),
		Title:       cleanText(v.Title),
		Description: strings.TrimSpace(cleanText(v.Description) + "\n\nRecursive: same structure as " + name + "; not expanded here."),
	}
}

// alternatives merges oneOf/anyOf alternatives (see converter).
func (c *converter) alternatives(alts openapi3.SchemaRefs) *manifest.Schema {
	conv := make([]*manifest.Schema, len(alts))
	for i, alt := range alts {
		conv[i] = c.convert(alt)
	}
	var objects, arrays []*manifest.Schema
	for _, s := range conv {
		switch s.Type {
		case "object":
			objects = append(objects, s)
		case "array":
			arrays = append(arrays, s)
		}
	}
	switch {
	case len(objects) == len(conv):
		return mergeObjects(objects)
	case len(objects)+len(arrays) == len(conv) && len(arrays) > 0 && sameItems(objects, arrays):
		return arrays[0]
	}
	names := make([]string, len(alts))
	for i, alt := range alts {
		names[i] = altName(alt, conv[i])
	}
	return &manifest.Schema{Description: "One of: " + strings.Join(names, ", ") + "."}
}

// mergeObjects unites the properties of object alternatives; a property is
// required only when every alternative requires it.
func mergeObjects(objects []*manifest.Schema) *manifest.Schema {
	out := &manifest.Schema{Type: "object"}
	count := map[string]int{}
	for _, o := range objects {
		for name, p := range o.Properties {
			if out.Properties == nil {
				out.Properties = map[string]*manifest.Schema{}
			}
			if _, ok := out.Properties[name]; !ok {
				cp := *p
				out.Properties[name] = &cp
			}
			if p.Required {
				count[name]++
			}
		}
	}
	for name, p := range out.Properties {
		p.Required = count[name] == len(objects)
	}
	return out
}

// sameItems tells whether the objects and the items of the arrays are all
// one shape.
func sameItems(objects, arrays []*manifest.Schema) bool {
	first := arrays[0].Items
	if first == nil {
		return false
	}
	for _, a := range arrays {
		if !reflect.DeepEqual(a.Items, first) {
			return false
		}
	}
	for _, o := range objects {
		if !reflect.DeepEqual(o, first) {
			return false
		}
	}
	return true
}

func altName(ref *openapi3.SchemaRef, s *manifest.Schema) string {
	if i := strings.LastIndex(ref.Ref, "/"); i >= 0 {
		return ref.Ref[i+1:]
	}
	if s.Type != "" {
		return s.Type
	}
	return "any"
}

// flattenAllOf merges v's allOf parts into one schema (see converter). A
// schema without allOf is returned as is.
func flattenAllOf(v *openapi3.Schema) *openapi3.Schema {
	if len(v.AllOf) == 0 {
		return v
	}
	return flattenInto(v, map[*openapi3.Schema]bool{v: true})
}

func flattenInto(v *openapi3.Schema, seen map[*openapi3.Schema]bool) *openapi3.Schema {
	out := *v
	out.AllOf = nil
	out.Properties = maps.Clone(v.Properties)
	out.Required = slices.Clone(v.Required)
	for _, part := range v.AllOf {
		if part == nil || part.Value == nil || seen[part.Value] {
			continue
		}
		seen[part.Value] = true
		p := part.Value
		if len(p.AllOf) > 0 {
			p = flattenInto(p, seen)
		}
		mergeSchema(&out, p)
	}
	return &out
}

// mergeSchema adds part's constraints to out (allOf semantics).
func mergeSchema(out, part *openapi3.Schema) {
	for name, prop := range part.Properties {
		if out.Properties == nil {
			out.Properties = openapi3.Schemas{}
		}
		if have, ok := out.Properties[name]; ok && have != prop {
			out.Properties[name] = &openapi3.SchemaRef{Value: &openapi3.Schema{AllOf: openapi3.SchemaRefs{have, prop}}}
		} else {
			out.Properties[name] = prop
		}
	}
	for _, r := range part.Required {
		if !slices.Contains(out.Required, r) {
			out.Required = append(out.Required, r)
		}
	}
	if out.Type == nil || len(out.Type.Slice()) == 0 {
		out.Type = part.Type
	}
	out.Title = firstNonEmpty(out.Title, part.Title)
	out.Description = firstNonEmpty(out.Description, part.Description)
	out.Format = firstNonEmpty(out.Format, part.Format)
	if out.Enum == nil {
		out.Enum = part.Enum
	}
	if out.Items == nil {
		out.Items = part.Items
	}
	if out.Min == nil {
		out.Min = part.Min
	}
	if out.Max == nil {
		out.Max = part.Max
	}
	if out.MaxLength == nil {
		out.MaxLength = part.MaxLength
	}
	if len(out.OneOf) == 0 {
		out.OneOf = part.OneOf
	}
	if len(out.AnyOf) == 0 {
		out.AnyOf = part.AnyOf
	}
	out.ReadOnly = out.ReadOnly || part.ReadOnly
	out.WriteOnly = out.WriteOnly || part.WriteOnly
}

// schemaType is the declared type (the first other than "null"), else "object" for a schema with
// properties, "array" for one with items, "" (any) otherwise.
func schemaType(v *openapi3.Schema) string {
	if t := spec.FirstType(v.Type); t != "" {
		return t
	}
	switch {
	case len(v.Properties) > 0:
		return "object"
	case v.Items != nil:
		return "array"
	}
	return ""
}

var brTag = regexp.MustCompile(`(?i)\s*<br\s*/?>\s*`)

// cleanText turns the HTML line breaks that API descriptions carry into
// newlines and trims the text.
func cleanText(s string) string {
	if strings.Contains(s, "<") {
		s = brTag.ReplaceAllString(s, "\n")
	}
	return strings.TrimSpace(s)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
