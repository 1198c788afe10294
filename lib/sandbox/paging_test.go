package sandbox

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// pagedLists are the five paged operations with a query that lists items.
func pagedLists(s Seeded) map[string]string {
	return map[string]string{
		"fetchPatients":             "/pub/patient?filter[organization]=" + s.OrganizationID,
		"fetchCalendarEvents":       "/pub/calendar_event?filter[organization]=" + s.OrganizationID,
		"fetchHealthProfiles":       "/pub/health_profile?filter[organization]=" + s.OrganizationID,
		"fetchHealthProfileAnswers": "/pub/health_profile_answer?filter[organization]=" + s.OrganizationID,
		"fetchPatientHealthMetrics": "/pub/patient_health_metric?filter[patient]=" + s.PatientID,
	}
}

// walk follows links.next from first, returning the ids in order.
func (h *harness) walk(first string) (ids []string, count int) {
	h.t.Helper()
	next := first
	for range 1000 {
		a := h.get(next)
		expectStatus(h.t, a, http.StatusOK)
		count = a.count(h.t)
		for _, o := range a.list(h.t) {
			ids = append(ids, o.ID)
		}
		if next = a.Doc.Links["next"]; next == "" {
			return ids, count
		}
	}
	h.t.Fatal("paging did not end")
	return nil, 0
}

func TestPagingBothStylesAgree(t *testing.T) {
	h := newHarness(t, Options{})
	for name, base := range pagedLists(h.sb.Seeded()) {
		t.Run(name, func(t *testing.T) {
			h.t = t
			skip, n1 := h.walk(base + "&page[size]=7")
			cursor, n2 := h.walk(base + "&page[limit]=4")
			if n1 != n2 || len(skip) != n1 || len(cursor) != n2 || n1 < 5 {
				t.Fatalf("skip %d/%d, cursor %d/%d", len(skip), n1, len(cursor), n2)
			}
			if strings.Join(skip, ",") != strings.Join(cursor, ",") {
				t.Fatalf("skip and cursor paging disagree")
			}
			seen := map[string]bool{}
			for _, id := range skip {
				if seen[id] {
					t.Fatalf("id %s repeated", id)
				}
				seen[id] = true
			}
		})
	}
}

func TestSkipPagingLinksAndDefaults(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	base := "/pub/patient?filter[organization]=" + s.OrganizationID + "&filter[archived]=false"
	a := h.get(base)
	if got := len(a.list(t)); got != 10 {
		t.Fatalf("default page size: %d items", got)
	}
	total := a.count(t) // 56 patients are not archived
	if total != 56 {
		t.Fatalf("meta.count %d, want 56", total)
	}
	if a.Doc.Links["prev"] != "" || a.Doc.Links["next"] == "" || a.Doc.Links["first"] == "" || a.Doc.Links["last"] == "" {
		t.Fatalf("links on page 1: %v", a.Doc.Links)
	}
	last, err := url.Parse(a.Doc.Links["last"])
	if err != nil {
		t.Fatal(err)
	}
	q := last.Query()
	if last.Scheme != "http" || last.Host != "sandbox.test" || last.Path != "/pub/patient" ||
		q.Get("page[number]") != "6" || q.Get("page[size]") != "10" ||
		q.Get("filter[organization]") != s.OrganizationID || q.Get("filter[archived]") != "false" {
		t.Fatalf("last link %s", last)
	}
	l := h.get(a.Doc.Links["last"])
	if len(l.list(t)) != 6 || l.Doc.Links["next"] != "" || l.Doc.Links["prev"] == "" {
		t.Fatalf("last page: %d items, links %v", len(l.list(t)), l.Doc.Links)
	}
	beyond := h.get(base + "&page[number]=9")
	if len(beyond.list(t)) != 0 || beyond.count(t) != 56 {
		t.Fatalf("page beyond the end: %s", beyond.Raw)
	}
	max := h.get(base + "&page[size]=50")
	if len(max.list(t)) != 50 {
		t.Fatalf("page size 50: %d", len(max.list(t)))
	}
	src := expectError(t, h.get(base+"&page[size]=51"), http.StatusConflict, CodeInvalidParameter)
	if src["parameter"] != "page[size]" {
		t.Fatalf("source %v", src)
	}
	// Health profile answers allow up to 100, default 50.
	ans := h.get("/pub/health_profile_answer?filter[organization]=" + s.OrganizationID)
	if got := len(ans.list(t)); got != 50 || ans.count(t) != 60 {
		t.Fatalf("answers default page: %d of %d", got, ans.count(t))
	}
	expectStatus(t, h.get("/pub/health_profile_answer?filter[organization]="+s.OrganizationID+"&page[size]=100"), http.StatusOK)
	expectError(t, h.get("/pub/health_profile_answer?filter[organization]="+s.OrganizationID+"&page[size]=101"),
		http.StatusConflict, CodeInvalidParameter)
}

func TestCountOnlyAndMixedPaging(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	for name, base := range pagedLists(s) {
		for _, p := range []string{"&page[size]=0", "&page[limit]=0"} {
			a := h.get(base + p)
			if len(a.list(t)) != 0 || a.count(t) == 0 || len(a.Doc.Links) != 0 {
				t.Errorf("%s%s: %s", name, p, a.Raw)
			}
		}
		src := expectError(t, h.get(base+"&page[size]=5&page[limit]=5"), http.StatusConflict, CodeInvalidParameter)
		if src["parameter"] != "page[limit]" {
			t.Errorf("%s: source %v", name, src)
		}
		expectError(t, h.get(base+"&page[number]=2&page[cursor]=abc"), http.StatusConflict, CodeInvalidParameter)
	}
	expectError(t, h.get(pagedLists(s)["fetchPatients"]+"&page[cursor]=bm90LWEtY3Vyc29y"), http.StatusConflict, CodeInvalidParameter)
	// Unpaged lists take no paging parameters.
	expectError(t, h.get("/pub/group?filter[organization]="+s.OrganizationID+"&page[size]=2"), http.StatusConflict, CodeInvalidParameter)
}

// TestCursorPagingUnderInsertion inserts patients and metrics between page
// fetches: cursor paging must answer every pre-existing item exactly once.
func TestCursorPagingUnderInsertion(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	before, _ := h.walk("/pub/patient?filter[organization]=" + s.OrganizationID + "&page[limit]=50")
	if len(before) != 60 {
		t.Fatalf("%d patients", len(before))
	}
	next := "/pub/patient?filter[organization]=" + s.OrganizationID + "&page[limit]=7"
	var got []string
	inserted := 0
	for page := 0; next != "" && page < 100; page++ {
		a := h.get(next)
		expectStatus(t, a, http.StatusOK)
		for _, o := range a.list(t) {
			got = append(got, o.ID)
		}
		next = a.Doc.Links["next"]
		// New patients, created now, and one the clock dates back.
		for i := range 3 {
			mrn := fmt.Sprintf("NEW-%d-%d", page, i)
			c := h.send("POST", "/pub/patient", `{"data":{"type":"patient","attributes":{"first_name":"New","identifiers":[{"system":"medical-record-number","value":"`+mrn+`"}]},"relationships":{"groups":{"data":[{"type":"group","id":"`+s.GroupIDs[0]+`"}]}}}}`)
			expectStatus(t, c, http.StatusCreated)
			inserted++
		}
		h.clock.Add(-24 * 3600e9) // later inserts are dated in the past, between pages already answered
	}
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
		if seen[id] > 1 {
			t.Fatalf("id %s answered twice", id)
		}
	}
	for _, id := range before {
		if seen[id] != 1 {
			t.Fatalf("pre-existing patient %s answered %d times", id, seen[id])
		}
	}
	if inserted == 0 {
		t.Fatal("nothing inserted")
	}
}

func TestCursorPagingSurvivesUpdatesAndDeletes(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	first := h.get("/pub/calendar_event?filter[organization]=" + s.OrganizationID + "&page[limit]=5")
	ids := first.list(t)
	// Updating an answered event does not move it; deleting one does not shift the rest.
	expectStatus(t, h.send("PATCH", "/pub/calendar_event/"+ids[0].ID, `{"data":{"type":"calendar_event","attributes":{"title":"Moved?"}}}`), http.StatusOK)
	expectStatus(t, h.do("DELETE", "/pub/calendar_event/"+ids[4].ID, "", "", "Authorization", "Bearer "+h.token), http.StatusOK)
	rest, _ := h.walk(first.Doc.Links["next"])
	all, _ := h.walk("/pub/calendar_event?filter[organization]=" + s.OrganizationID + "&page[limit]=50")
	if len(rest)+4 != len(all) {
		t.Fatalf("after page 1: %d, all now %d", len(rest), len(all))
	}
	for i, id := range rest {
		if all[i+4] != id {
			t.Fatalf("position %d: %s, want %s", i, id, all[i+4])
		}
	}
}
