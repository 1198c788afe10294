package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fitbitplus"
)

// Paging step fields of the paged list actions (the operations whose Paging
// is not empty). They are step fields (cfg), not message input:
//
//	fetchAll  CheckBoxView   "on" or true: follow the pages (links.next) to the end
//	maxItems  TextFieldView  positive integer: stop after this many resources (default 10000)
//	maxPages  TextFieldView  positive integer: stop after this many pages (default 200)
//	split     CheckBoxView   "on" or true: one data message per resource
//
// Without fetchAll and split the action sends its one request as before.
const (
	FieldFetchAll = "fetchAll"
	FieldMaxItems = "maxItems"
	FieldMaxPages = "maxPages"
	FieldSplit    = "split"
)

// Paging defaults and limits.
const (
	DefaultMaxItems  = 10000
	DefaultMaxPages  = 200
	DefaultPageLimit = 50       // page[limit] of cursor paging when the input sets none
	MessageSizeLimit = 10 << 20 // the platform's outgoing message limit (bytes)
	envelopeSlack    = 64 << 10 // room kept for the envelope around the body
)

// PagingOptions are the paging step fields of one step.
type PagingOptions struct {
	FetchAll bool
	Split    bool
	MaxItems int
	MaxPages int
}

// PagingFromConfig reads the paging step fields. A bound that is not a
// positive integer is an InputError naming the field.
func PagingFromConfig(cfg component.Config) (PagingOptions, error) {
	o := PagingOptions{FetchAll: checked(cfg[FieldFetchAll]), Split: checked(cfg[FieldSplit])}
	var err error
	if o.MaxItems, err = positiveInt(cfg, FieldMaxItems, DefaultMaxItems); err != nil {
		return o, err
	}
	o.MaxPages, err = positiveInt(cfg, FieldMaxPages, DefaultMaxPages)
	return o, err
}

// checked reads a CheckBoxView value: "on" (the platform's), true or "true".
func checked(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		s := strings.ToLower(strings.TrimSpace(v))
		return s == "on" || s == "true"
	}
	return false
}

// positiveInt reads a positive integer field given as a number or a string;
// absent or empty gives def.
func positiveInt(cfg component.Config, field string, def int) (int, error) {
	v, ok := cfg[field]
	if !ok || v == nil || v == "" {
		return def, nil
	}
	f, _, err := number(v)
	if err != nil || f < 1 || f != float64(int64(f)) || f > 1<<31 {
		return 0, &component.InputError{Field: field, Reason: "must be a positive whole number"}
	}
	return int(f), nil
}

// Page is one fetched page of a list.
type Page struct {
	Number   int                        // 1-based position in the walk
	Data     []json.RawMessage          // the resources (cut at WalkOptions.MaxItems)
	Included []json.RawMessage          // the page's included resources
	Links    map[string]json.RawMessage // the page's links as answered
	Meta     map[string]json.RawMessage // the page's meta as answered
	Count    int                        // meta.count, -1 when absent
	Last     bool                       // no page follows in this walk
}

// WalkOptions bound a walk.
type WalkOptions struct {
	MaxItems int  // stop after this many resources (0: DefaultMaxItems)
	MaxPages int  // stop after this many pages (0: DefaultMaxPages)
	Single   bool // send the one request the input describes, follow nothing
	Log      *slog.Logger
}

// WalkResult sums up a walk.
type WalkResult struct {
	Pages     int    // pages fetched
	Fetched   int    // resources handed to the visitor
	Count     int    // meta.count of the last page, -1 when the API gave none
	FromStart bool   // the walk began at the first page (no cursor, page[number] 1)
	Truncated string // "maxItems" or "maxPages" when a bound stopped the walk
	Complete  bool   // the whole collection was fetched and Fetched matches Count
}

// Walk fetches the pages of a paged list operation and calls visit for
// each, in order. The paging style comes from the input: skip paging when it
// has page.number or page.size, else cursor paging with page.limit (default
// DefaultPageLimit). A request with both styles is an InputError naming
// "page". Pages after the first are fetched by following links.next
// verbatim; a link to another scheme or host than the API's base URL is
// refused, so the bearer token never goes elsewhere. Errors of a request are
// classified as Process documents; an error of visit stops the walk and is
// returned as is.
func Walk(ctx context.Context, op *Operation, client component.APIClient, input map[string]any, opts WalkOptions,
	visit func(*Page) error) (WalkResult, error) {
	res := WalkResult{Count: -1}
	if opts.MaxItems <= 0 {
		opts.MaxItems = DefaultMaxItems
	}
	if opts.MaxPages <= 0 {
		opts.MaxPages = DefaultMaxPages
	}
	in, fromStart := pagingInput(input, opts.Single)
	res.FromStart = fromStart
	p, err := op.prepare(in)
	if err != nil {
		return res, err
	}
	base, err := url.Parse(client.BaseURL())
	if err != nil {
		return res, fmt.Errorf("%s: base url: %w", op.ID, err)
	}
	req, err := p.request(ctx, client.BaseURL())
	if err != nil {
		return res, err
	}
	seen := map[string]bool{}
	for {
		seen[req.URL.String()] = true
		body, err := op.send(ctx, client, req, opts.Log)
		if err != nil {
			return res, err
		}
		page, err := decodePage(body)
		if err != nil {
			return res, fmt.Errorf("%s: page %d: %w", op.ID, res.Pages+1, err)
		}
		res.Pages++
		page.Number = res.Pages
		if page.Count >= 0 {
			res.Count = page.Count
		}
		if room := opts.MaxItems - res.Fetched; len(page.Data) > room {
			page.Data = page.Data[:room]
			res.Truncated = "maxItems"
		}
		res.Fetched += len(page.Data)
		next := ""
		if !opts.Single && res.Truncated == "" {
			if next, err = nextLink(page.Links, req.URL, base); err != nil {
				return res, fmt.Errorf("%s: %w", op.ID, err)
			}
		}
		switch {
		case next == "":
		case res.Fetched >= opts.MaxItems:
			res.Truncated, next = "maxItems", ""
		case res.Pages >= opts.MaxPages:
			res.Truncated, next = "maxPages", ""
		case seen[next]:
			return res, fmt.Errorf("%s: links.next of page %d points back to a page already fetched", op.ID, res.Pages)
		}
		page.Last = next == ""
		if page.Last && !opts.Single {
			res.Complete = res.FromStart && res.Truncated == "" && (res.Count < 0 || res.Count == res.Fetched)
		}
		if err := visit(page); err != nil {
			return res, err
		}
		if page.Last {
			return res, nil
		}
		if req, err = op.follow(ctx, next); err != nil {
			return res, err
		}
	}
}

// pagingInput copies input with the default page limit of cursor paging set,
// and tells whether the walk starts at the first page.
func pagingInput(input map[string]any, single bool) (map[string]any, bool) {
	has := func(field, wire string) bool {
		v := lookup(input, field, wire)
		return v != nil && v != ""
	}
	skip := has("page.number", "page[number]") || has("page.size", "page[size]")
	if skip {
		n := lookup(input, "page.number", "page[number]")
		f, _, err := number(n)
		return input, n == nil || n == "" || (err == nil && f == 1)
	}
	fromStart := !has("page.cursor", "page[cursor]")
	if single || has("page.limit", "page[limit]") {
		return input, fromStart
	}
	in := maps.Clone(input)
	if in == nil {
		in = map[string]any{}
	}
	in["page[limit]"] = DefaultPageLimit
	return in, fromStart
}

// follow builds the request for a links.next URL (already checked).
func (op *Operation) follow(ctx context.Context, next string) (*http.Request, error) {
	if !op.Secured {
		ctx = fitbitplus.WithoutToken(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: links.next: %w", op.ID, err)
	}
	accept := op.Produces
	if accept == "" {
		accept = fitbitplus.MediaType
	}
	req.Header.Set("Accept", accept)
	return req, nil
}

// nextLink reads links.next (a string or {href}) resolved against the
// current request URL; "" when there is none. A link to another scheme or
// host than base is an error.
func nextLink(links map[string]json.RawMessage, current, base *url.URL) (string, error) {
	raw, ok := links["next"]
	if !ok {
		return "", nil
	}
	var href string
	if err := json.Unmarshal(raw, &href); err != nil {
		var obj struct {
			Href string `json:"href"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return "", fmt.Errorf("links.next is neither a URL nor a link object")
		}
		href = obj.Href
	}
	if href == "" {
		return "", nil
	}
	u, err := current.Parse(href)
	if err != nil {
		return "", fmt.Errorf("links.next is not a URL: %w", err)
	}
	if u.Scheme != base.Scheme || !strings.EqualFold(u.Host, base.Host) {
		return "", fmt.Errorf("links.next points to %s://%s, not to the API at %s://%s: not following it with the credential",
			u.Scheme, u.Host, base.Scheme, base.Host)
	}
	u.Fragment = ""
	return u.String(), nil
}

// decodePage reads a list document.
func decodePage(body []byte) (*Page, error) {
	var doc struct {
		Data     json.RawMessage            `json:"data"`
		Included []json.RawMessage          `json:"included"`
		Links    map[string]json.RawMessage `json:"links"`
		Meta     map[string]json.RawMessage `json:"meta"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("the answer is not a JSON:API document")
	}
	pg := &Page{Included: doc.Included, Links: doc.Links, Meta: doc.Meta, Count: -1}
	if len(doc.Data) > 0 && string(doc.Data) != "null" {
		if err := json.Unmarshal(doc.Data, &pg.Data); err != nil {
			return nil, fmt.Errorf("the answer's data is not a list")
		}
	}
	if c, ok := doc.Meta["count"]; ok {
		if n, err := strconv.Atoi(string(c)); err == nil && n >= 0 {
			pg.Count = n
		}
	}
	return pg, nil
}

// processPages runs a paged list action with fetchAll or split: one data
// message per page (each page's document) or per resource (a single-resource
// document with the included resources it references). The last message's
// meta carries fetched, pages, complete and truncated; meta.page numbers the
// page every message comes from.
func (op *Operation) processPages(ctx context.Context, ex *component.Exec, client component.APIClient,
	input map[string]any, opts PagingOptions) error {
	log := ex.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	out := &heldEmitter{op: op, emit: ex.Emit}
	index := 0
	res, err := Walk(ctx, op, client, input, WalkOptions{MaxItems: opts.MaxItems, MaxPages: opts.MaxPages,
		Single: !opts.FetchAll, Log: log}, func(pg *Page) error {
		if !opts.Split {
			data, err := json.Marshal(pg.Data)
			if err != nil {
				return fmt.Errorf("%s: encode page: %w", op.ID, err)
			}
			meta := rawMeta(pg.Meta)
			meta["page"] = pg.Number
			return out.push(ctx, &document{Data: data, Included: pg.Included, Links: pg.Links, Meta: meta})
		}
		for _, item := range pg.Data {
			index++
			meta := map[string]any{"page": pg.Number, "index": index}
			if pg.Count >= 0 {
				meta["count"] = pg.Count
			}
			doc := &document{Data: item, Included: Referenced(item, pg.Included), Meta: meta}
			if err := out.push(ctx, doc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if ferr := out.flush(ctx, nil); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	summary := map[string]any{"fetched": res.Fetched, "pages": res.Pages}
	if opts.FetchAll {
		summary["complete"] = res.Complete
		if res.Truncated != "" {
			summary["truncated"] = res.Truncated
		}
	}
	if opts.FetchAll && !res.Complete {
		log.WarnContext(ctx, "list not fetched completely", "operation", op.ID, "fetched", res.Fetched,
			"count", res.Count, "pages", res.Pages, "truncated", res.Truncated, "from_start", res.FromStart)
	}
	return out.flush(ctx, summary)
}

// document is an outgoing JSON:API document.
type document struct {
	Data     json.RawMessage            `json:"data"`
	Included []json.RawMessage          `json:"included,omitempty"`
	Links    map[string]json.RawMessage `json:"links,omitempty"`
	Meta     map[string]any             `json:"meta,omitempty"`
}

func rawMeta(m map[string]json.RawMessage) map[string]any {
	out := make(map[string]any, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// heldEmitter emits documents one behind, so that the last one can carry
// the summary of the walk.
type heldEmitter struct {
	op   *Operation
	emit component.Emitter
	held *document
}

func (h *heldEmitter) push(ctx context.Context, doc *document) error {
	prev := h.held
	h.held = doc
	if prev == nil {
		return nil
	}
	return h.send(ctx, prev)
}

// flush emits the held document with summary merged into its meta.
func (h *heldEmitter) flush(ctx context.Context, summary map[string]any) error {
	doc := h.held
	h.held = nil
	if doc == nil {
		return nil
	}
	if doc.Meta == nil {
		doc.Meta = map[string]any{}
	}
	maps.Copy(doc.Meta, summary)
	return h.send(ctx, doc)
}

func (h *heldEmitter) send(ctx context.Context, doc *document) error {
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("%s: encode message: %w", h.op.ID, err)
	}
	if err := CheckMessageSize(body); err != nil {
		return fmt.Errorf("%s: %w (use split or a smaller page limit)", h.op.ID, err)
	}
	return h.emit.Data(ctx, &component.Message{ID: uuid.NewString(), Headers: map[string]any{}, Body: body})
}

// CheckMessageSize refuses a message body that would not fit the platform's
// outgoing message limit once wrapped in its envelope.
func CheckMessageSize(body []byte) error {
	if len(body) > MessageSizeLimit-envelopeSlack {
		return fmt.Errorf("a message of %d bytes exceeds the %d MiB limit", len(body), MessageSizeLimit>>20)
	}
	return nil
}

// SingleDocument is the JSON:API single-resource document of one resource of
// a list: {data, included (the resources it references, directly or through
// other included resources), meta}.
func SingleDocument(item json.RawMessage, included []json.RawMessage, meta map[string]any) ([]byte, error) {
	body, err := json.Marshal(&document{Data: item, Included: Referenced(item, included), Meta: meta})
	if err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	return body, CheckMessageSize(body)
}

// resourceRef is what Referenced reads of a resource.
type resourceRef struct {
	Type          string `json:"type"`
	ID            string `json:"id"`
	Relationships map[string]struct {
		Data json.RawMessage `json:"data"`
	} `json:"relationships"`
}

type typeID struct{ Type, ID string }

// Referenced returns the included resources that item references through
// its relationships, and those they reference in turn, in included order.
func Referenced(item json.RawMessage, included []json.RawMessage) []json.RawMessage {
	if len(included) == 0 {
		return nil
	}
	byKey := make(map[typeID]int, len(included))
	parsed := make([]resourceRef, len(included))
	for i, raw := range included {
		if json.Unmarshal(raw, &parsed[i]) == nil {
			byKey[typeID{parsed[i].Type, parsed[i].ID}] = i
		}
	}
	var root resourceRef
	if json.Unmarshal(item, &root) != nil {
		return nil
	}
	want := make([]bool, len(included))
	queue := []resourceRef{root}
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		for _, rel := range r.Relationships {
			for _, id := range linkage(rel.Data) {
				if i, ok := byKey[id]; ok && !want[i] {
					want[i] = true
					queue = append(queue, parsed[i])
				}
			}
		}
	}
	var out []json.RawMessage
	for i, w := range want {
		if w {
			out = append(out, included[i])
		}
	}
	return out
}

// linkage reads relationship data: one identifier, a list, or null.
func linkage(raw json.RawMessage) []typeID {
	var one typeID
	if err := json.Unmarshal(raw, &one); err == nil && one.ID != "" {
		return []typeID{one}
	}
	var many []typeID
	_ = json.Unmarshal(raw, &many)
	return many
}
