package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fitbitplus"
)

// Input rules (what the incoming message body may hold):
//
//   - A parameter is read from the input at its dotted Field as nested objects
//     ({"filter": {"identifier": {"system": "x"}}} for "filter.identifier.system"),
//     else from a top-level key spelled like the Field ("filter.identifier.system")
//     or like the wire name ("filter[identifier][system]").
//   - null and "" count as absent: mappers leave unmapped fields empty.
//   - string parameters take JSON strings only.
//   - integer, number and boolean parameters take their JSON type or a string
//     holding one ("12", "1.5", "true"), since mappers often produce strings;
//     an integer must be a whole number ("2.0" is 2, "2.5" is refused).
//   - array parameters take a JSON array or a comma-separated string; every
//     item is checked against the item type and the enum. csv arrays are sent
//     comma-joined, other arrays as repeated query keys.
//   - enum values must match exactly; Minimum and Maximum are inclusive.
//   - skip paging (page[number], page[size]) and cursor paging (page[limit],
//     page[cursor]) must not be mixed in one input.
//   - the request body is the JSON:API document at Body.Field; when present
//     it must be an object and its data (when present) an object or an array.
//     With Body.IDParam (a PATCH), data.id is filled in from that path
//     parameter when left out, and a different data.id is refused.
//
// Every violation is a *component.InputError naming the dotted field, found
// before any API call.

// prepared is a validated request, ready to be bound to a base URL.
type prepared struct {
	op     *Operation
	path   string   // escaped path
	query  []string // encoded key=value pairs, sorted
	header http.Header
	body   []byte
}

// BuildRequest validates input against op and builds the HTTP request for the
// API at baseURL. The request body (if any) can be replayed (GetBody is set);
// an operation that is not Secured gets a context marked with
// fitbitplus.WithoutToken, so the client sends no bearer token.
func BuildRequest(ctx context.Context, op *Operation, baseURL string, input map[string]any) (*http.Request, error) {
	p, err := op.prepare(input)
	if err != nil {
		return nil, err
	}
	return p.request(ctx, baseURL)
}

func (op *Operation) prepare(input map[string]any) (*prepared, error) {
	p := &prepared{op: op, path: op.Path, header: http.Header{}}
	pathValues := map[string]string{}
	var skip, cursor bool
	for _, prm := range op.Params {
		field := prm.Field
		if field == "" {
			field = prm.Name
		}
		values, err := paramValues(prm, lookup(input, field, prm.Name))
		if err != nil {
			return nil, &component.InputError{Field: field, Reason: err.Error()}
		}
		if len(values) == 0 {
			if prm.Required {
				return nil, &component.InputError{Field: field, Reason: "required"}
			}
			continue
		}
		switch prm.Name {
		case "page[number]", "page[size]":
			skip = true
		case "page[limit]", "page[cursor]":
			cursor = true
		}
		switch prm.In {
		case "path":
			if values[0] == "." || values[0] == ".." {
				return nil, &component.InputError{Field: field, Reason: "must not be . or .."}
			}
			p.path = strings.ReplaceAll(p.path, "{"+prm.Name+"}", url.PathEscape(values[0]))
			pathValues[prm.Name] = values[0]
		case "header":
			p.header.Set(prm.Name, strings.Join(values, ","))
		default:
			key := queryKey(prm.Name)
			if prm.Type == "array" && prm.Format != "csv" {
				for _, v := range values {
					p.query = append(p.query, key+"="+queryValue(v))
				}
			} else {
				p.query = append(p.query, key+"="+queryValue(strings.Join(values, ",")))
			}
		}
	}
	if skip && cursor {
		return nil, &component.InputError{Field: "page",
			Reason: "use either skip paging (page.number, page.size) or cursor paging (page.limit, page.cursor), not both"}
	}
	if strings.Contains(p.path, "{") {
		return nil, fmt.Errorf("%s: path %q has a parameter the operation does not declare", op.ID, p.path)
	}
	sort.Strings(p.query)
	if op.Body != nil {
		body, err := bodyDocument(op.Body, input, pathValues)
		if err != nil {
			return nil, err
		}
		p.body = body
	}
	return p, nil
}

func (p *prepared) request(ctx context.Context, baseURL string) (*http.Request, error) {
	u := strings.TrimRight(baseURL, "/") + p.path
	if len(p.query) > 0 {
		u += "?" + strings.Join(p.query, "&")
	}
	if !p.op.Secured {
		ctx = fitbitplus.WithoutToken(ctx)
	}
	var body io.Reader
	if p.body != nil {
		body = bytes.NewReader(p.body)
	}
	req, err := http.NewRequestWithContext(ctx, p.op.Method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s: build request: %w", p.op.ID, err)
	}
	for k, v := range p.header {
		req.Header[k] = v
	}
	accept := p.op.Produces
	if accept == "" {
		accept = fitbitplus.MediaType
	}
	req.Header.Set("Accept", accept)
	if p.body != nil {
		ct := fitbitplus.MediaType
		if len(p.op.Body.MediaTypes) > 0 && p.op.Body.MediaTypes[0] != "" {
			ct = p.op.Body.MediaTypes[0]
		}
		req.Header.Set("Content-Type", ct)
	}
	return req, nil
}

// lookup finds the value of a parameter in the input (see the input rules).
// An object at a top-level key is never a parameter's value (parameters are
// scalars or arrays): it is the nested field of another parameter, as
// filter.a.b is under the key "filter" that a parameter "filter" renamed to
// query_filter would fall back to.
func lookup(input map[string]any, field, wire string) any {
	cur := any(input)
	for part := range strings.SplitSeq(field, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			cur = nil
			break
		}
		cur = m[part]
	}
	if cur != nil {
		return cur
	}
	for _, key := range []string{field, wire} {
		if v, ok := input[key]; ok && v != nil {
			if _, object := v.(map[string]any); !object {
				return v
			}
		}
	}
	return nil
}

// paramValues checks v against prm and returns its wire values: none when
// absent, one for a scalar, one per item for an array.
func paramValues(prm Param, v any) ([]string, error) {
	if v == nil || v == "" {
		return nil, nil
	}
	if prm.Type != "array" {
		s, err := scalar(prm, prm.Type, v)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	var items []any
	switch v := v.(type) {
	case []any:
		items = v
	case string:
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				items = append(items, part)
			}
		}
	default:
		return nil, fmt.Errorf("must be an array or a comma-separated string")
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		if item == nil || item == "" {
			continue
		}
		s, err := scalar(prm, prm.Items, item)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i+1, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// scalar checks one value against a scalar type, the enum and the bounds, and
// returns its wire form.
func scalar(prm Param, typ string, v any) (string, error) {
	var s string
	switch typ {
	case "integer", "number":
		f, text, err := number(v)
		if err != nil {
			return "", fmt.Errorf("must be %s", article(typ))
		}
		if typ == "integer" {
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return "", fmt.Errorf("must be a whole number")
			}
			text = strconv.FormatInt(int64(f), 10)
		}
		if prm.Minimum != nil && f < *prm.Minimum {
			return "", fmt.Errorf("must be at least %s", formatBound(*prm.Minimum))
		}
		if prm.Maximum != nil && f > *prm.Maximum {
			return "", fmt.Errorf("must be at most %s", formatBound(*prm.Maximum))
		}
		s = text
	case "boolean":
		switch b := v.(type) {
		case bool:
			s = strconv.FormatBool(b)
		case string:
			s = strings.ToLower(strings.TrimSpace(b))
			if s != "true" && s != "false" {
				return "", fmt.Errorf("must be true or false")
			}
		default:
			return "", fmt.Errorf("must be true or false")
		}
	default: // string
		str, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("must be a string")
		}
		s = str
	}
	if len(prm.Enum) > 0 && !slices.Contains(prm.Enum, s) {
		return "", fmt.Errorf("%q is not one of %s", s, strings.Join(prm.Enum, ", "))
	}
	return s, nil
}

// number reads a JSON number, or a string holding one.
func number(v any) (float64, string, error) {
	var text string
	switch n := v.(type) {
	case json.Number:
		text = n.String()
	case float64:
		return n, strconv.FormatFloat(n, 'f', -1, 64), nil
	case int:
		return float64(n), strconv.Itoa(n), nil
	case int64:
		return float64(n), strconv.FormatInt(n, 10), nil
	case string:
		text = strings.TrimSpace(n)
	default:
		return 0, "", fmt.Errorf("not a number")
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, "", fmt.Errorf("not a number")
	}
	return f, text, nil
}

func article(typ string) string {
	if typ == "integer" {
		return "an integer"
	}
	return "a number"
}

func formatBound(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// bodyDocument checks and encodes the request document. With b.IDParam,
// data.id is the path parameter's value: filled in when the input leaves it
// out, and a different one is refused.
func bodyDocument(b *Body, input map[string]any, pathValues map[string]string) ([]byte, error) {
	field := b.Field
	if field == "" {
		field = "requestBody"
	}
	v := lookup(input, field, field)
	if v == nil {
		if b.Required {
			return nil, &component.InputError{Field: field,
				Reason: `required: the JSON:API document, e.g. {"data": {...}}`}
		}
		return nil, nil
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, &component.InputError{Field: field, Reason: "must be a JSON object (the JSON:API document)"}
	}
	if data, ok := doc["data"]; ok {
		switch data.(type) {
		case map[string]any, []any:
		default:
			return nil, &component.InputError{Field: field + ".data", Reason: "must be an object or an array"}
		}
	}
	if b.IDParam != "" {
		var err error
		if doc, err = withDataID(doc, field, b.IDParam, pathValues[b.IDParam]); err != nil {
			return nil, err
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, &component.InputError{Field: field, Reason: "cannot be encoded as JSON"}
	}
	return out, nil
}

// withDataID returns doc with data.id set to id (the value of the path
// parameter param) when its data object has none; the input is not
// modified. A data.id
// other than id is refused, naming both.
func withDataID(doc map[string]any, field, param, id string) (map[string]any, error) {
	data, ok := doc["data"].(map[string]any)
	if !ok {
		return doc, nil // no resource object (none, or an array): no single id to fill in
	}
	switch have := data["id"].(type) {
	case nil:
	case string:
		if have == "" {
			break
		}
		if have != id {
			return nil, &component.InputError{Field: field + ".data.id",
				Reason: fmt.Sprintf("%q differs from %s %q of the path: a PATCH document names the resource it changes", have, param, id)}
		}
		return doc, nil
	default:
		return nil, &component.InputError{Field: field + ".data.id", Reason: "must be a string"}
	}
	filled := maps.Clone(data)
	filled["id"] = id
	out := maps.Clone(doc)
	out["data"] = filled
	return out, nil
}

// queryKey escapes a wire name but keeps its brackets, as the API documents
// them (filter[identifier][system]).
func queryKey(name string) string {
	return bracketUnescaper.Replace(url.QueryEscape(name))
}

var bracketUnescaper = strings.NewReplacer("%5B", "[", "%5D", "]")

// queryValue escapes a query value but keeps commas, which join csv items.
func queryValue(s string) string { return commaUnescaper.Replace(url.QueryEscape(s)) }

var commaUnescaper = strings.NewReplacer("%2C", ",")
