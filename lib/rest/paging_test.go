package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
)

// fakeList answers GET /pub/patient with n patients p1..pn in both paging
// styles, absolute links like the API's, and meta.count = count (n when 0).
// Each patient references group g<i%2> and the page includes both groups.
type fakeList struct {
	n, count int
	nextHost string // when set, links.next points to this host
	mu       sync.Mutex
	queries  []string
}

func (f *fakeList) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.RawQuery)
	f.mu.Unlock()
	q := r.URL.Query()
	start, size := 0, 10
	links := map[string]string{}
	host := "http://" + r.Host
	if f.nextHost != "" {
		host = f.nextHost
	}
	if q.Has("page[limit]") {
		size, _ = strconv.Atoi(q.Get("page[limit]"))
		if c := q.Get("page[cursor]"); c != "" {
			start, _ = strconv.Atoi(strings.TrimPrefix(c, "c"))
		}
		if start+size < f.n {
			links["next"] = fmt.Sprintf("%s/pub/patient?page[limit]=%d&page[cursor]=c%d&keep=verbatim", host, size, start+size)
		}
	} else {
		if q.Has("page[size]") {
			size, _ = strconv.Atoi(q.Get("page[size]"))
		}
		num := 1
		if q.Has("page[number]") {
			num, _ = strconv.Atoi(q.Get("page[number]"))
		}
		start = (num - 1) * size
		if start+size < f.n {
			links["next"] = fmt.Sprintf("%s/pub/patient?page[number]=%d&page[size]=%d", host, num+1, size)
		}
	}
	var data []string
	for i := start; i < min(start+size, f.n); i++ {
		data = append(data, fmt.Sprintf(`{"type":"patient","id":"p%d","relationships":{"groups":{"data":[{"type":"group","id":"g%d"}]}}}`, i+1, (i+1)%2))
	}
	count := f.count
	if count == 0 {
		count = f.n
	}
	lj, _ := json.Marshal(links)
	w.Header().Set("Content-Type", "application/vnd.api+json")
	fmt.Fprintf(w, `{"data":[%s],"included":[{"type":"group","id":"g0"},{"type":"group","id":"g1"}],"links":%s,"meta":{"count":%d,"req_id":"r"}}`,
		strings.Join(data, ","), lj, count)
}

func pagedWorld(t *testing.T, f *fakeList, cfg component.Config) (*world, *bytes.Buffer) {
	t.Helper()
	w := newWorld(t, f.serve)
	for k, v := range cfg {
		w.ex.Cfg[k] = v
	}
	var logs bytes.Buffer
	w.ex.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	return w, &logs
}

type pageBody struct {
	Data     json.RawMessage   `json:"data"`
	Included []json.RawMessage `json:"included"`
	Meta     map[string]any    `json:"meta"`
}

func bodies(t *testing.T, rec *recorder) []pageBody {
	t.Helper()
	var out []pageBody
	for _, m := range rec.data {
		var b pageBody
		if err := json.Unmarshal(m.Body, &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func ids(t *testing.T, bs []pageBody) []string {
	t.Helper()
	var out []string
	for _, b := range bs {
		var list []struct{ ID string }
		if bytes.HasPrefix(bytes.TrimSpace(b.Data), []byte("[")) {
			if err := json.Unmarshal(b.Data, &list); err != nil {
				t.Fatal(err)
			}
		} else {
			var one struct{ ID string }
			if err := json.Unmarshal(b.Data, &one); err != nil {
				t.Fatal(err)
			}
			list = append(list, one)
		}
		for _, x := range list {
			out = append(out, x.ID)
		}
	}
	return out
}

func TestFetchAllFollowsCursorLinksVerbatim(t *testing.T) {
	f := &fakeList{n: 7}
	w, _ := pagedWorld(t, f, component.Config{"fetchAll": "on"})
	if err := w.run(fetchPatients, `{"filter":{"organization":"o1"},"page":{"limit":3}}`); err != nil {
		t.Fatal(err)
	}
	bs := bodies(t, w.rec)
	if len(bs) != 3 {
		t.Fatalf("want one message per page (3), got %d", len(bs))
	}
	if got := strings.Join(ids(t, bs), ","); got != "p1,p2,p3,p4,p5,p6,p7" {
		t.Fatalf("items %s", got)
	}
	last := bs[2].Meta
	if last["complete"] != true || last["fetched"] != 7.0 || last["pages"] != 3.0 || last["page"] != 3.0 {
		t.Fatalf("last meta %v", last)
	}
	if _, ok := bs[0].Meta["complete"]; ok || bs[0].Meta["page"] != 1.0 {
		t.Fatalf("first meta %v", bs[0].Meta)
	}
	if !strings.Contains(f.queries[0], "filter[organization]=o1") || !strings.Contains(f.queries[0], "page[limit]=3") {
		t.Fatalf("first query %s", f.queries[0])
	}
	if !strings.Contains(f.queries[1], "keep=verbatim") || !strings.Contains(f.queries[2], "page[cursor]=c6") {
		t.Fatalf("links.next not followed verbatim: %v", f.queries)
	}
}

func TestFetchAllDefaultsToCursorPaging(t *testing.T) {
	f := &fakeList{n: 120}
	w, _ := pagedWorld(t, f, component.Config{"fetchAll": true})
	if err := w.run(fetchPatients, `{"filter":{"organization":"o1"}}`); err != nil {
		t.Fatal(err)
	}
	if len(f.queries) != 3 || !strings.Contains(f.queries[0], "page[limit]=50") {
		t.Fatalf("queries %v", f.queries)
	}
	if n := len(ids(t, bodies(t, w.rec))); n != 120 {
		t.Fatalf("got %d items", n)
	}
}

func TestFetchAllFollowsSkipLinksWhenInputUsesSkip(t *testing.T) {
	f := &fakeList{n: 5}
	w, _ := pagedWorld(t, f, component.Config{"fetchAll": "on"})
	if err := w.run(fetchPatients, `{"filter":{"organization":"o1"},"page":{"size":2}}`); err != nil {
		t.Fatal(err)
	}
	if len(f.queries) != 3 {
		t.Fatalf("queries %v", f.queries)
	}
	for i, q := range f.queries {
		if strings.Contains(q, "page[limit]") || strings.Contains(q, "page[cursor]") {
			t.Fatalf("query %d mixes styles: %s", i, q)
		}
	}
	if !strings.Contains(f.queries[2], "page[number]=3") {
		t.Fatalf("third query %s", f.queries[2])
	}
	bs := bodies(t, w.rec)
	if got := strings.Join(ids(t, bs), ","); got != "p1,p2,p3,p4,p5" || bs[len(bs)-1].Meta["complete"] != true {
		t.Fatalf("items %s meta %v", got, bs[len(bs)-1].Meta)
	}
}

func TestFetchAllBounds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       component.Config
		wantItems int
		wantCalls int
		truncated string
	}{
		{"maxItems mid page", component.Config{"maxItems": "4"}, 4, 2, "maxItems"},
		{"maxItems at page end", component.Config{"maxItems": 6.0}, 6, 2, "maxItems"},
		{"maxPages", component.Config{"maxPages": "2"}, 6, 2, "maxPages"},
		{"bounds not reached", component.Config{"maxItems": "100", "maxPages": "5"}, 10, 4, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeList{n: 10}
			tc.cfg["fetchAll"] = "on"
			tc.cfg["split"] = "on"
			w, logs := pagedWorld(t, f, tc.cfg)
			if err := w.run(fetchPatients, `{"filter":{"organization":"o1"},"page":{"limit":3}}`); err != nil {
				t.Fatal(err)
			}
			bs := bodies(t, w.rec)
			if len(bs) != tc.wantItems || len(f.queries) != tc.wantCalls {
				t.Fatalf("items %d calls %d", len(bs), len(f.queries))
			}
			last := bs[len(bs)-1].Meta
			if tc.truncated == "" {
				if last["complete"] != true || last["truncated"] != nil {
					t.Fatalf("meta %v", last)
				}
				return
			}
			if last["complete"] != false || last["truncated"] != tc.truncated || last["fetched"] != float64(tc.wantItems) {
				t.Fatalf("meta %v", last)
			}
			if !strings.Contains(logs.String(), `"level":"WARN"`) {
				t.Fatalf("no warning logged: %s", logs)
			}
		})
	}
}

func TestFetchAllCountMismatchIsNotedNotFailed(t *testing.T) {
	f := &fakeList{n: 7, count: 9}
	w, logs := pagedWorld(t, f, component.Config{"fetchAll": "on"})
	if err := w.run(fetchPatients, `{"filter":{"organization":"o1"},"page":{"limit":5}}`); err != nil {
		t.Fatal(err)
	}
	bs := bodies(t, w.rec)
	last := bs[len(bs)-1].Meta
	if last["complete"] != false || last["fetched"] != 7.0 || last["count"] != 9.0 {
		t.Fatalf("meta %v", last)
	}
	if !strings.Contains(logs.String(), "list not fetched completely") {
		t.Fatalf("no warning: %s", logs)
	}
}

func TestSplitEmitsSingleResourceDocuments(t *testing.T) {
	f := &fakeList{n: 4}
	w, _ := pagedWorld(t, f, component.Config{"fetchAll": "on", "split": "on"})
	if err := w.run(fetchPatients, `{"filter":{"organization":"o1"},"page":{"limit":3}}`); err != nil {
		t.Fatal(err)
	}
	bs := bodies(t, w.rec)
	if len(bs) != 4 {
		t.Fatalf("want 4 messages, got %d", len(bs))
	}
	for i, b := range bs {
		var one struct{ ID string }
		if err := json.Unmarshal(b.Data, &one); err != nil || one.ID != fmt.Sprintf("p%d", i+1) {
			t.Fatalf("message %d data %s", i, b.Data)
		}
		if len(b.Included) != 1 || !strings.Contains(string(b.Included[0]), fmt.Sprintf(`"g%d"`, (i+1)%2)) {
			t.Fatalf("message %d included %s", i, b.Included)
		}
		if b.Meta["index"] != float64(i+1) {
			t.Fatalf("message %d meta %v", i, b.Meta)
		}
		if size := len(w.rec.data[i].Body); size > 400 {
			t.Fatalf("message %d is %d bytes: not one resource", i, size)
		}
	}
	if bs[3].Meta["complete"] != true {
		t.Fatalf("last meta %v", bs[3].Meta)
	}
}

func TestSplitWithoutFetchAllSplitsOnePage(t *testing.T) {
	f := &fakeList{n: 10}
	w, _ := pagedWorld(t, f, component.Config{"split": "on"})
	if err := w.run(fetchPatients, `{"filter":{"organization":"o1"},"page":{"size":3}}`); err != nil {
		t.Fatal(err)
	}
	if len(f.queries) != 1 || len(w.rec.data) != 3 {
		t.Fatalf("calls %d messages %d", len(f.queries), len(w.rec.data))
	}
	if _, ok := bodies(t, w.rec)[2].Meta["complete"]; ok {
		t.Fatal("a single request claims completeness")
	}
}

func TestFetchAllRefusesMixedPagingStyles(t *testing.T) {
	f := &fakeList{n: 3}
	w, _ := pagedWorld(t, f, component.Config{"fetchAll": "on"})
	err := w.run(fetchPatients, `{"filter":{"organization":"o1"},"page":{"size":2,"limit":3}}`)
	var ie *component.InputError
	if !errors.As(err, &ie) || ie.Field != "page" {
		t.Fatalf("want an InputError naming page, got %v", err)
	}
	if len(f.queries) != 0 {
		t.Fatal("a request was sent")
	}
}

func TestFetchAllRefusesNextLinkToAnotherHost(t *testing.T) {
	f := &fakeList{n: 7, nextHost: "http://127.0.0.2:9"}
	w, _ := pagedWorld(t, f, component.Config{"fetchAll": "on"})
	err := w.run(fetchPatients, `{"filter":{"organization":"o1"},"page":{"limit":3}}`)
	if err == nil || !strings.Contains(err.Error(), "not following it with the credential") {
		t.Fatalf("want a refusal, got %v", err)
	}
	if len(f.queries) != 1 {
		t.Fatalf("calls %d", len(f.queries))
	}
}

func TestPagingFieldsAreValidated(t *testing.T) {
	for _, cfg := range []component.Config{{"maxItems": "0"}, {"maxItems": "ten"}, {"maxPages": -1.0}, {"maxPages": "2.5"}} {
		_, err := PagingFromConfig(cfg)
		var ie *component.InputError
		if !errors.As(err, &ie) {
			t.Fatalf("%v: want an InputError, got %v", cfg, err)
		}
	}
	o, err := PagingFromConfig(component.Config{"fetchAll": "on", "split": "false", "maxItems": "12"})
	if err != nil || !o.FetchAll || o.Split || o.MaxItems != 12 || o.MaxPages != DefaultMaxPages {
		t.Fatalf("got %+v %v", o, err)
	}
}

func TestWithoutPagingFieldsOneRequestAsBefore(t *testing.T) {
	f := &fakeList{n: 7}
	w, _ := pagedWorld(t, f, nil)
	if err := w.run(fetchPatients, `{"filter":{"organization":"o1"},"page":{"limit":3}}`); err != nil {
		t.Fatal(err)
	}
	if len(f.queries) != 1 || len(w.rec.data) != 1 || strings.Contains(string(w.rec.data[0].Body), `"page":`) {
		t.Fatalf("calls %d messages %d", len(f.queries), len(w.rec.data))
	}
}

func TestCheckMessageSize(t *testing.T) {
	if CheckMessageSize(make([]byte, 1<<20)) != nil {
		t.Fatal("1 MiB refused")
	}
	if CheckMessageSize(make([]byte, MessageSizeLimit)) == nil {
		t.Fatal("10 MiB accepted")
	}
}

func TestWalkStopsOnVisitError(t *testing.T) {
	f := &fakeList{n: 9}
	w, _ := pagedWorld(t, f, nil)
	client, err := w.ex.API.Client(context.Background(), w.ex.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	res, err := Walk(context.Background(), fetchPatients, client, input(`{"filter":{"organization":"o1"},"page":{"limit":3}}`),
		WalkOptions{}, func(p *Page) error {
			if p.Number == 2 {
				return stop
			}
			return nil
		})
	if !errors.Is(err, stop) || res.Pages != 2 || len(f.queries) != 2 {
		t.Fatalf("res %+v err %v", res, err)
	}
}
