package sandbox

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// operation is one API operation the sandbox answers.
type operation struct {
	ID     string
	Method string
	Path   string // under BasePath, as in swagger.json
	Write  bool   // takes the store's write lock
	Public bool   // no bearer token (the token exchange)
	// Query lists the accepted query parameters besides paging and include;
	// any other parameter is answered 409 InvalidParameter.
	Query    []string
	Paging   *paging  // nil: an unpaged list or not a list
	Includes []string // accepted include names
	Handle   func(*call) (*reply, error)
}

// routes builds the router: one ServeMux pattern per path, dispatching by
// method, and JSON:API 404/405 answers for everything else.
func (s *Sandbox) routes() http.Handler {
	byPath := map[string]map[string]*operation{}
	var paths []string
	for _, op := range operations() {
		s.opCount[op.ID] = new(atomic.Int64)
		if byPath[op.Path] == nil {
			byPath[op.Path] = map[string]*operation{}
			paths = append(paths, op.Path)
		}
		byPath[op.Path][op.Method] = op
	}
	mux := http.NewServeMux()
	for _, p := range paths {
		methods := byPath[p]
		mux.HandleFunc(BasePath+p, func(w http.ResponseWriter, r *http.Request) {
			op := methods[r.Method]
			if op == nil {
				allowed := slices.Sorted(maps.Keys(methods))
				w.Header().Set("Allow", strings.Join(allowed, ", "))
				c := &call{s: s, r: r, reqID: "req-" + strconv.FormatUint(s.reqN.Add(1), 10)}
				s.counters.requests.Add(1)
				s.writeError(w, c, &apiError{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
					Title: "Method not allowed", Detail: r.Method + " is not allowed on " + r.URL.Path})
				return
			}
			s.serve(w, r, op)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, nil) })
	return mux
}

// checkQuery rejects query parameters the operation does not define.
func (c *call) checkQuery() error {
	for name := range c.query {
		switch {
		case slices.Contains(c.op.Query, name):
		case c.op.Paging != nil && strings.HasPrefix(name, "page[") &&
			slices.Contains([]string{"page[size]", "page[number]", "page[limit]", "page[cursor]"}, name):
		case name == "include" && len(c.op.Includes) > 0:
		default:
			return invalidParam(name, "unknown query parameter %s", name)
		}
	}
	return nil
}

// includes parses the include parameter (a comma-separated list).
func (c *call) includes() ([]string, error) {
	if !c.query.Has("include") {
		return nil, nil
	}
	names := splitList(c.query.Get("include"))
	for _, n := range names {
		if !slices.Contains(c.op.Includes, n) {
			return nil, invalidParam("include", "include %q is not one of %s", n, strings.Join(c.op.Includes, ", "))
		}
	}
	return names, nil
}

// timestamped types answer created_at and updated_at among their attributes.
var timestamped = map[string]bool{"patient": true, "calendar_event": true}

// encoded is the JSON of a stored resource, cached until the next write
// operation (every write bumps s.gen under the write lock).
func (s *Sandbox) encoded(r *resource) json.RawMessage {
	gen := s.gen.Load()
	if c := r.cache.Load(); c != nil && c.gen == gen {
		return c.b
	}
	b, err := marshalCompact(s.object(r))
	if err != nil {
		b = []byte("null")
	}
	r.cache.Store(&encodedCache{gen: gen, b: b})
	return b
}

// object renders a stored resource.
func (s *Sandbox) object(r *resource) *object {
	attrs := r.Attrs
	if timestamped[r.Type] {
		attrs = make(map[string]any, len(r.Attrs)+2)
		maps.Copy(attrs, r.Attrs)
		attrs["created_at"] = formatTime(r.Created)
		attrs["updated_at"] = formatTime(r.Updated)
	}
	o := &object{Type: r.Type, ID: r.ID, Attributes: attrs}
	if len(r.Rels) > 0 {
		o.Relationships = make(map[string]relationship, len(r.Rels))
		for name, v := range r.Rels {
			switch v := v.(type) {
			case ref:
				o.Relationships[name] = relationship{Data: identifier{v.Type, v.ID}}
			case []ref:
				ids := make([]identifier, len(v))
				for i, x := range v {
					ids[i] = identifier{x.Type, x.ID}
				}
				o.Relationships[name] = relationship{Data: ids}
			}
		}
	}
	return o
}

// includer gathers the included resources of a document, once each.
type includer struct {
	c    *call
	seen map[ref]bool
	list []json.RawMessage
}

func newIncluder(c *call) *includer { return &includer{c: c, seen: map[ref]bool{}} }

func (in *includer) primary(r *resource) { in.seen[ref{r.Type, r.ID}] = true }

func (in *includer) add(r *resource) {
	if r == nil || in.seen[ref{r.Type, r.ID}] {
		return
	}
	in.seen[ref{r.Type, r.ID}] = true
	in.list = append(in.list, in.c.s.encoded(r))
}

// related adds the resources a relationship of r points at.
func (in *includer) related(r *resource, name string) {
	db := in.c.s.db
	switch v := r.Rels[name].(type) {
	case ref:
		in.add(db.get(v.Type, v.ID))
	case []ref:
		for _, x := range v {
			in.add(db.get(x.Type, x.ID))
		}
	}
}

func (c *call) included(primaries []*resource) ([]json.RawMessage, error) {
	names, err := c.includes()
	if err != nil || len(names) == 0 {
		return nil, err
	}
	in := newIncluder(c)
	for _, r := range primaries {
		in.primary(r)
	}
	for _, r := range primaries {
		for _, n := range names {
			in.related(r, n)
		}
	}
	return in.list, nil
}

// single answers one resource (200).
func (c *call) single(r *resource) (*reply, error) { return c.singleStatus(http.StatusOK, r) }

func (c *call) singleStatus(status int, r *resource) (*reply, error) {
	inc, err := c.included([]*resource{r})
	if err != nil {
		return nil, err
	}
	return &reply{status, &document{Data: c.s.encoded(r), Included: inc}}, nil
}

// many answers several created resources as an array (bulk creation).
func (c *call) many(status int, rs []*resource, meta map[string]any) *reply {
	data := make([]json.RawMessage, len(rs))
	for i, r := range rs {
		data[i] = c.s.encoded(r)
	}
	return &reply{status, &document{Data: data, Meta: meta}}
}

// listAll answers an unpaged list with meta.count.
func (c *call) listAll(items []*resource) (*reply, error) {
	inc, err := c.included(items)
	if err != nil {
		return nil, err
	}
	data := make([]json.RawMessage, len(items))
	for i, r := range items {
		data[i] = c.s.encoded(r)
	}
	return &reply{http.StatusOK, &document{Data: data, Included: inc, Meta: map[string]any{"count": len(items)}}}, nil
}

// listPaged answers one page of items (all matches, in key order).
func (c *call) listPaged(items []*resource) (*reply, error) {
	p, err := parsePage(c.query, c.op.Paging)
	if err != nil {
		return nil, err
	}
	pageItems, links := window(c.r, items, p)
	inc, err := c.included(pageItems)
	if err != nil {
		return nil, err
	}
	data := make([]json.RawMessage, len(pageItems))
	for i, r := range pageItems {
		data[i] = c.s.encoded(r)
	}
	return &reply{http.StatusOK, &document{Data: data, Included: inc, Links: links,
		Meta: map[string]any{"count": len(items)}}}, nil
}

// filterItems keeps the items for which keep is true, preserving order.
func filterItems(items []*resource, keep func(*resource) bool) []*resource {
	out := make([]*resource, 0, len(items))
	for _, r := range items {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// byPathID finds the resource of the path's {id}.
// patchTarget starts an update: the resource named by the path, and the one
// resource of the body, checked for its type, its id and by checks (the
// attribute rules of the type).
func (c *call) patchTarget(typ string, checks ...func(*inResource) error) (*resource, *inResource, error) {
	r, err := c.byPathID(typ)
	if err != nil {
		return nil, nil, err
	}
	b, err := c.decodeBody(false)
	if err != nil {
		return nil, nil, err
	}
	it := b.items[0]
	errs := []error{it.checkType(typ), c.checkBodyID(it, r.ID)}
	for _, check := range checks {
		errs = append(errs, check(it))
	}
	if err := firstError(errs...); err != nil {
		return nil, nil, err
	}
	return r, it, nil
}

func (c *call) byPathID(typ string) (*resource, error) {
	id := c.r.PathValue("id")
	r := c.s.db.get(typ, id)
	if r == nil {
		return nil, notFound(strings.ReplaceAll(typ, "_", " "), id)
	}
	return r, nil
}

func fetchOne(typ string) func(*call) (*reply, error) {
	return func(c *call) (*reply, error) {
		r, err := c.byPathID(typ)
		if err != nil {
			return nil, err
		}
		return c.single(r)
	}
}

// requireOne enforces an "at least one of these filters" rule.
func (c *call) requireOne(names ...string) error {
	for _, n := range names {
		if c.query.Get(n) != "" {
			return nil
		}
	}
	return invalidParam(names[0], "one of %s is required", strings.Join(names, ", "))
}

// requireFilter enforces a required filter.
func (c *call) requireFilter(name string) (string, error) {
	v := c.query.Get(name)
	if v == "" {
		return "", invalidParam(name, "%s is required", name)
	}
	return v, nil
}

// ---- request bodies ----

// inResource is one resource object of a request body.
type inResource struct {
	Type          string                     `json:"type"`
	ID            string                     `json:"id"`
	Attributes    map[string]any             `json:"attributes"`
	Relationships map[string]json.RawMessage `json:"relationships"`
	Meta          map[string]any             `json:"meta"`
	base          string                     // JSON pointer of this object
}

// inIdent is a resource identifier in a relationship, possibly a query.
type inIdent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Meta struct {
		Query map[string]any `json:"query"`
	} `json:"meta"`
}

// body is a decoded request document.
type body struct {
	items []*inResource
	array bool
	meta  map[string]any
}

func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// decodeBody reads a JSON:API request document; data may be an array only
// when bulk is true.
func (c *call) decodeBody(bulk bool) (*body, error) {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return nil, invalidBody("/data", "a JSON:API document with data is required")
	}
	var doc struct {
		Data json.RawMessage `json:"data"`
		Meta map[string]any  `json:"meta"`
	}
	if err := decodeJSON(c.body, &doc); err != nil {
		return nil, invalidBody("", "body is not a JSON document: %v", err)
	}
	out := &body{meta: doc.Meta}
	d := bytes.TrimSpace(doc.Data)
	switch {
	case len(d) == 0 || string(d) == "null":
		return nil, invalidBody("/data", "data is required")
	case d[0] == '[':
		if !bulk {
			return nil, invalidBody("/data", "data must be an object")
		}
		var raws []json.RawMessage
		if err := decodeJSON(d, &raws); err != nil {
			return nil, invalidBody("/data", "data: %v", err)
		}
		if len(raws) == 0 {
			return nil, invalidBody("/data", "data must not be empty")
		}
		out.array = true
		for i, raw := range raws {
			it, err := decodeItem(raw, "/data/"+strconv.Itoa(i))
			if err != nil {
				return nil, err
			}
			out.items = append(out.items, it)
		}
	case d[0] == '{':
		it, err := decodeItem(d, "/data")
		if err != nil {
			return nil, err
		}
		out.items = []*inResource{it}
	default:
		return nil, invalidBody("/data", "data must be an object")
	}
	return out, nil
}

func decodeItem(raw []byte, base string) (*inResource, error) {
	it := &inResource{}
	if err := decodeJSON(raw, it); err != nil {
		return nil, invalidBody(base, "resource object: %v", err)
	}
	if it.Attributes == nil {
		it.Attributes = map[string]any{}
	}
	it.base = base
	return it, nil
}

func (it *inResource) attrPtr(name string) string { return it.base + "/attributes/" + name }

// checkType enforces data.type when the client sent one.
func (it *inResource) checkType(typ string) error {
	if it.Type != "" && it.Type != typ {
		return invalidBody(it.base+"/type", "type must be %q", typ)
	}
	return nil
}

// required checks that attributes are present and not null.
func (it *inResource) required(names ...string) error {
	for _, n := range names {
		if v, ok := it.Attributes[n]; !ok || v == nil {
			return invalidBody(it.attrPtr(n), "attribute %s is required", n)
		}
	}
	return nil
}

// checkTimes checks that date-time attributes, when present, parse.
func (it *inResource) checkTimes(names ...string) error {
	for _, n := range names {
		v, ok := it.Attributes[n]
		if !ok || v == nil {
			continue
		}
		s, isStr := v.(string)
		if _, good := parseTime(s); !isStr || !good {
			return invalidBody(it.attrPtr(n), "attribute %s must be an ISO 8601 date-time", n)
		}
	}
	return nil
}

func (it *inResource) checkEnum(name string, values ...string) error {
	v, ok := it.Attributes[name]
	if !ok || v == nil {
		return nil
	}
	if s, isStr := v.(string); isStr && slices.Contains(values, s) {
		return nil
	}
	return invalidBody(it.attrPtr(name), "attribute %s must be one of %s", name, strings.Join(values, ", "))
}

func (it *inResource) checkKind(name, kind string) error {
	v, ok := it.Attributes[name]
	if !ok || v == nil {
		return nil
	}
	good := false
	switch kind {
	case "string":
		_, good = v.(string)
	case "number":
		_, good = v.(json.Number)
	case "boolean":
		_, good = v.(bool)
	case "array":
		_, good = v.([]any)
	case "object":
		_, good = v.(map[string]any)
	}
	if !good {
		return invalidBody(it.attrPtr(name), "attribute %s must be a %s", name, kind)
	}
	return nil
}

// cleanAttrs drops null attributes (a create stores what was given).
func cleanAttrs(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		if v != nil {
			out[k] = v
		}
	}
	return out
}

// mergeAttrs applies a PATCH: given attributes replace, nulls remove.
func mergeAttrs(old, patch map[string]any) map[string]any {
	out := maps.Clone(old)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func (it *inResource) relPtr(name string) string { return it.base + "/relationships/" + name + "/data" }

// relOne resolves a to-one relationship; nil when absent and not required.
func (c *call) relOne(it *inResource, name string, required bool, types ...string) (*resource, error) {
	raw, ok := it.Relationships[name]
	ptr := it.relPtr(name)
	if !ok {
		if required {
			return nil, invalidBody(ptr, "relationship %s is required", name)
		}
		return nil, nil
	}
	var rel struct {
		Data *inIdent `json:"data"`
	}
	if err := decodeJSON(raw, &rel); err != nil {
		return nil, invalidBody(ptr, "relationship %s must hold one resource identifier", name)
	}
	if rel.Data == nil {
		if required {
			return nil, invalidBody(ptr, "relationship %s is required", name)
		}
		return nil, nil
	}
	return c.resolve(rel.Data, ptr, types)
}

// relMany resolves a to-many relationship; ok is false when absent.
func (c *call) relMany(it *inResource, name string, types ...string) ([]*resource, bool, error) {
	raw, ok := it.Relationships[name]
	ptr := it.relPtr(name)
	if !ok {
		return nil, false, nil
	}
	var rel struct {
		Data []*inIdent `json:"data"`
	}
	if err := decodeJSON(raw, &rel); err != nil {
		return nil, false, invalidBody(ptr, "relationship %s must hold an array of resource identifiers", name)
	}
	out := make([]*resource, 0, len(rel.Data))
	for i, id := range rel.Data {
		if id == nil {
			return nil, false, invalidBody(ptr+"/"+strconv.Itoa(i), "resource identifier must not be null")
		}
		r, err := c.resolve(id, ptr+"/"+strconv.Itoa(i), types)
		if err != nil {
			return nil, false, err
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, true, nil
}

// resolve finds the resource an identifier names: by id, or by meta.query
// (a patient by identifier and organization, a group by organization and
// name).
func (c *call) resolve(id *inIdent, ptr string, types []string) (*resource, error) {
	typ := id.Type
	if typ == "" && len(types) == 1 {
		typ = types[0]
	}
	if !slices.Contains(types, typ) {
		return nil, invalidBody(ptr+"/type", "type must be one of %s", strings.Join(types, ", "))
	}
	if id.ID != "" {
		r := c.s.db.get(typ, id.ID)
		if r == nil {
			return nil, notFoundAt(ptr+"/id", "no "+strings.ReplaceAll(typ, "_", " ")+" with id "+strconv.Quote(id.ID))
		}
		return r, nil
	}
	q := id.Meta.Query
	if q == nil {
		return nil, invalidBody(ptr+"/id", "a resource identifier needs an id or meta.query")
	}
	qptr := ptr + "/meta/query"
	org, _ := q["organization"].(string)
	switch typ {
	case "patient":
		ident, _ := q["identifier"].(map[string]any)
		sys, _ := ident["system"].(string)
		val, _ := ident["value"].(string)
		if sys == "" || val == "" {
			return nil, invalidBody(qptr+"/identifier", "meta.query.identifier needs system and value")
		}
		if org == "" {
			org = c.tok.Org
		}
		if p := c.s.db.patientByIdentifier(org, sys, val); p != nil {
			return p, nil
		}
		return nil, notFoundAt(qptr, "no patient matches meta.query")
	case "group":
		name, _ := q["name"].(string)
		if name == "" {
			return nil, invalidBody(qptr+"/name", "meta.query needs organization and name")
		}
		if org == "" {
			org = c.tok.Org
		}
		for _, g := range c.s.db.table("group").order {
			if g.Org == org && g.Attrs["name"] == name {
				return g, nil
			}
		}
		return nil, notFoundAt(qptr, "no group matches meta.query")
	}
	return nil, invalidBody(qptr, "meta.query lookups are not supported for %s", typ)
}

func toRef(r *resource) ref { return ref{r.Type, r.ID} }

func toRefs(rs []*resource) []ref {
	out := make([]ref, len(rs))
	for i, r := range rs {
		out[i] = toRef(r)
	}
	return out
}

// orgOf is the organization a new resource belongs to: that of the first
// related resource that has one, else the token's.
func (c *call) orgOf(related ...*resource) string {
	for _, r := range related {
		if r != nil && r.Org != "" {
			return r.Org
		}
	}
	return c.tok.Org
}

// touch marks a resource updated now.
func (c *call) touch(r *resource) {
	if c.now.After(r.Updated) {
		r.Updated = c.now
	}
}
