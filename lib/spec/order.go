package spec

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi3"
	yaml3 "github.com/oasdiff/yaml3"
)

// mediaHints orders the media types of a request body or response, preferred
// first. kin-openapi keeps content in maps, so the order comes from the
// source: Swagger 2 consumes/produces lists, OpenAPI 3 key order.
type mediaHints interface {
	body(path, method string, content openapi3.Content) []string
	response(path, method, code string, content openapi3.Content) []string
}

// defaultMediaType stands in when a Swagger 2 document declares none.
const defaultMediaType = "application/json"

type v2MediaHints struct{ doc *openapi2.T }

func v2Hints(doc *openapi2.T) mediaHints { return v2MediaHints{doc} }

func (h v2MediaHints) op(path, method string) *openapi2.Operation {
	if item := h.doc.Paths[path]; item != nil {
		return item.GetOperation(method)
	}
	return nil
}

func (h v2MediaHints) body(path, method string, _ openapi3.Content) []string {
	list := h.doc.Consumes
	if op := h.op(path, method); op != nil && len(op.Consumes) > 0 {
		list = op.Consumes
	}
	return orDefault(list)
}

func (h v2MediaHints) response(path, method, _ string, _ openapi3.Content) []string {
	list := h.doc.Produces
	if op := h.op(path, method); op != nil && len(op.Produces) > 0 {
		list = op.Produces
	}
	return orDefault(list)
}

func orDefault(list []string) []string {
	if len(list) == 0 {
		return []string{defaultMediaType}
	}
	return slices.Clone(list)
}

// v3MediaHints holds the content key order of every request body and
// response, keyed "path method" and "path method code".
type v3MediaHints map[string][]string

func v3Hints(data []byte) (mediaHints, error) {
	var root yaml3.Node
	if err := yaml3.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse spec: %w", err)
	}
	doc := &root
	if doc.Kind == yaml3.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	h := v3MediaHints{}
	paths := child(doc, "paths")
	for i := 0; paths != nil && i+1 < len(paths.Content); i += 2 {
		path, item := paths.Content[i].Value, paths.Content[i+1]
		for j := 0; j+1 < len(item.Content); j += 2 {
			method, op := strings.ToUpper(item.Content[j].Value), item.Content[j+1]
			if body := deref(doc, child(op, "requestBody")); body != nil {
				h[path+" "+method] = keys(child(body, "content"))
			}
			responses := child(op, "responses")
			for k := 0; responses != nil && k+1 < len(responses.Content); k += 2 {
				code, resp := responses.Content[k].Value, deref(doc, responses.Content[k+1])
				h[path+" "+method+" "+code] = keys(child(resp, "content"))
			}
		}
	}
	return h, nil
}

func (h v3MediaHints) body(path, method string, content openapi3.Content) []string {
	return ordered(content, h[path+" "+method])
}

func (h v3MediaHints) response(path, method, code string, content openapi3.Content) []string {
	return ordered(content, h[path+" "+method+" "+code])
}

// ordered lists the keys of content in the order of pref; keys pref lacks
// follow, sorted.
func ordered(content openapi3.Content, pref []string) []string {
	all := slices.Sorted(maps.Keys(content))
	rank := func(mt string) int {
		if i := slices.Index(pref, mt); i >= 0 {
			return i
		}
		return len(pref)
	}
	slices.SortStableFunc(all, func(a, b string) int { return rank(a) - rank(b) })
	return all
}

// child returns the value of key in mapping n, or nil.
func child(n *yaml3.Node, key string) *yaml3.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml3.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml3.AliasNode {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

// deref follows an internal "$ref: '#/a/b'" chain (bounded).
func deref(doc, n *yaml3.Node) *yaml3.Node {
	for range 8 {
		ref := child(n, "$ref")
		if ref == nil {
			return n
		}
		target, ok := strings.CutPrefix(ref.Value, "#/")
		if !ok {
			return nil
		}
		n = doc
		for _, part := range strings.Split(target, "/") {
			part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
			n = child(n, part)
		}
	}
	return n
}

func keys(n *yaml3.Node) []string {
	if n == nil || n.Kind != yaml3.MappingNode {
		return nil
	}
	out := make([]string, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, n.Content[i].Value)
	}
	return out
}
