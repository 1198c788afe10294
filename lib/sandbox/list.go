package sandbox

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// timeFormat is how the sandbox writes date-times (UTC, milliseconds).
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// parseTime reads an ISO 8601 date-time (RFC 3339, optional fraction).
func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// timeRange is a `start..end` filter: start inclusive, end exclusive.
type timeRange struct{ start, end time.Time }

func (tr timeRange) contains(t time.Time) bool { return !t.Before(tr.start) && t.Before(tr.end) }

func parseRange(param, v string) (timeRange, error) {
	a, b, ok := strings.Cut(v, "..")
	if !ok {
		return timeRange{}, invalidParam(param, "%s must be two ISO date-times separated by \"..\"", param)
	}
	start, ok1 := parseTime(a)
	end, ok2 := parseTime(b)
	if !ok1 || !ok2 {
		return timeRange{}, invalidParam(param, "%s must be two ISO date-times separated by \"..\"", param)
	}
	if end.Before(start) {
		return timeRange{}, invalidParam(param, "%s ends before it starts", param)
	}
	return timeRange{start, end}, nil
}

// attrTime reads a date-time attribute; ok is false when absent or invalid.
func attrTime(attrs map[string]any, name string) (time.Time, bool) {
	s, _ := attrs[name].(string)
	if s == "" {
		return time.Time{}, false
	}
	return parseTime(s)
}

func parseBool(param, v string) (bool, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalidParam(param, "%s must be true or false", param)
}

// splitList splits a comma-separated parameter value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// paging describes an operation's skip paging limits.
type paging struct{ defSize, maxSize int }

var (
	defaultPaging = &paging{defSize: 10, maxSize: 50}
	answerPaging  = &paging{defSize: 50, maxSize: 100}
)

const (
	defaultLimit = 50
	maxLimit     = 100
)

// page is the parsed paging request.
type page struct {
	cursor       bool
	size, number int // skip paging
	limit        int // cursor paging
	after        *key
}

func intParam(q url.Values, name string, def, min, max int) (int, error) {
	v := q.Get(name)
	if !q.Has(name) {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalidParam(name, "%s must be an integer", name)
	}
	if n < min || n > max {
		return 0, invalidParam(name, "%s must be between %d and %d", name, min, max)
	}
	return n, nil
}

func parsePage(q url.Values, rule *paging) (page, error) {
	skip := q.Has("page[size]") || q.Has("page[number]")
	cursor := q.Has("page[limit]") || q.Has("page[cursor]")
	if skip && cursor {
		name := "page[limit]"
		if !q.Has(name) {
			name = "page[cursor]"
		}
		return page{}, invalidParam(name, "skip paging (page[size], page[number]) and cursor paging (page[limit], page[cursor]) cannot be mixed")
	}
	var p page
	var err error
	if !cursor {
		if p.size, err = intParam(q, "page[size]", rule.defSize, 0, rule.maxSize); err != nil {
			return p, err
		}
		p.number, err = intParam(q, "page[number]", 1, 1, 1<<30)
		return p, err
	}
	p.cursor = true
	if p.limit, err = intParam(q, "page[limit]", defaultLimit, 0, maxLimit); err != nil {
		return p, err
	}
	if q.Has("page[cursor]") {
		k, ok := decodeCursor(q.Get("page[cursor]"))
		if !ok {
			return p, invalidParam("page[cursor]", "page[cursor] is not a cursor this server issued")
		}
		p.after = &k
	}
	return p, nil
}

func encodeCursor(k key) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(k.Created, 36) + "." + k.ID))
}

func decodeCursor(s string) (key, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return key{}, false
	}
	a, id, ok := strings.Cut(string(b), ".")
	if !ok || id == "" {
		return key{}, false
	}
	n, err := strconv.ParseInt(a, 36, 64)
	if err != nil {
		return key{}, false
	}
	return key{n, id}, true
}

// pageLink is an absolute link to this request with other paging parameters.
func pageLink(r *http.Request, set map[string]string) string {
	q := r.URL.Query()
	for _, name := range []string{"page[size]", "page[number]", "page[limit]", "page[cursor]"} {
		q.Del(name)
	}
	for k, v := range set {
		q.Set(k, v)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}

// window cuts one page out of the matching items (in key order) and builds
// the links; meta.count is the number of all matching items.
func window(r *http.Request, items []*resource, p page) ([]*resource, map[string]string) {
	itoa := strconv.Itoa
	if p.cursor {
		if p.limit == 0 {
			return nil, nil
		}
		start := 0
		if p.after != nil {
			start, _ = slices.BinarySearchFunc(items, *p.after, func(e *resource, k key) int {
				if c := compareKeys(e.key(), k); c != 0 {
					return c
				}
				return -1 // e == k: the answered item sorts before the start
			})
		}
		end := min(start+p.limit, len(items))
		links := map[string]string{"self": pageLink(r, cursorParams(p))}
		if end < len(items) {
			links["next"] = pageLink(r, map[string]string{
				"page[limit]": itoa(p.limit), "page[cursor]": encodeCursor(items[end-1].key())})
		}
		return items[start:end], links
	}
	if p.size == 0 {
		return nil, nil
	}
	last := max(1, (len(items)+p.size-1)/p.size)
	link := func(n int) string {
		return pageLink(r, map[string]string{"page[size]": itoa(p.size), "page[number]": itoa(n)})
	}
	links := map[string]string{"self": link(p.number), "first": link(1), "last": link(last)}
	if p.number > 1 {
		links["prev"] = link(min(p.number-1, last))
	}
	if p.number < last {
		links["next"] = link(p.number + 1)
	}
	start := min((p.number-1)*p.size, len(items))
	return items[start:min(start+p.size, len(items))], links
}

func cursorParams(p page) map[string]string {
	m := map[string]string{"page[limit]": strconv.Itoa(p.limit)}
	if p.after != nil {
		m["page[cursor]"] = encodeCursor(*p.after)
	}
	return m
}

func itoa(i int) string { return strconv.Itoa(i) }
