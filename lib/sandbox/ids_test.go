package sandbox

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// idTime reads the time in the first four bytes of an ObjectID-like id.
func idTime(t *testing.T, id string) time.Time {
	t.Helper()
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 12 {
		t.Fatalf("id %q is not 24 hex digits", id)
	}
	return time.Unix(int64(b[0])<<24|int64(b[1])<<16|int64(b[2])<<8|int64(b[3]), 0).UTC()
}

// metricIDs lists the ids of a patient's metrics in the API's order.
func (h *harness) metricIDs(patient string) []string {
	h.t.Helper()
	var ids []string
	for n := 1; ; n++ {
		a := h.get(fmt.Sprintf("/pub/patient_health_metric?filter[patient]=%s&page[size]=50&page[number]=%d", patient, n))
		expectStatus(h.t, a, http.StatusOK)
		page := a.list(h.t)
		for _, m := range page {
			ids = append(ids, m.ID)
		}
		if len(page) < 50 {
			return ids
		}
	}
}

func (h *harness) createMetric(patient string) string {
	h.t.Helper()
	a := h.send("POST", "/pub/patient_health_metric", `{"data":{"type":"patient_health_metric","attributes":{"type":"weight","value":70,"unit":"kg"},"relationships":{"patient":{"data":{"type":"patient","id":"`+patient+`"}}}}}`)
	expectStatus(h.t, a, http.StatusOK)
	return a.one(h.t).ID
}

func TestIDsCarryTheStoredTimeAndSortInListOrder(t *testing.T) {
	h := newHarness(t, Options{Seed: 3})
	s := h.sb.Seeded()
	for _, p := range s.PatientIDs[:20] {
		ids := h.metricIDs(p)
		if len(ids) != 10 || !slices.IsSorted(ids) {
			t.Fatalf("seeded metrics of %s not in id order: %v", p, ids)
		}
	}
	// Three metrics stored at one instant land at the end, in the order made.
	p := s.PatientIDs[0]
	before := h.metricIDs(p)
	var made []string
	for range 3 {
		made = append(made, h.createMetric(p))
	}
	if got := h.metricIDs(p); !slices.Equal(got, append(before, made...)) {
		t.Fatalf("list %v, want %v then %v", got, before, made)
	}
	for _, id := range made {
		if at := idTime(t, id); !at.Equal(epoch) {
			t.Fatalf("id %s carries %s, want the time it was stored (%s)", id, at, epoch)
		}
	}
	if !slices.IsSorted(made) {
		t.Fatalf("ids made one after the other do not sort in that order: %v", made)
	}
}

// tickingClock moves on 1 ms at every reading, as a real clock between
// requests does.
type tickingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tickingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// TestConcurrentCreatesLandInListOrder: creates racing for one patient's
// list are stamped under the write lock, so the list (ordered by creation
// time, then id) is the order they landed in, which is also id order.
func TestConcurrentCreatesLandInListOrder(t *testing.T) {
	clk := &tickingClock{t: epoch}
	h := newHarness(t, Options{Now: clk.Now})
	p := h.sb.Seeded().PatientIDs[0]
	h.login()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				a := h.do("POST", "/pub/patient_health_metric", MediaType,
					`{"data":{"type":"patient_health_metric","attributes":{"type":"heart_rate","value":61},"relationships":{"patient":{"data":{"type":"patient","id":"`+p+`"}}}}}`,
					"Authorization", "Bearer "+h.token)
				if a.Status != http.StatusOK {
					t.Errorf("create: %d %s", a.Status, a.Raw)
				}
			}
		})
	}
	wg.Wait()
	ids := h.metricIDs(p)
	if len(ids) != 90 {
		t.Fatalf("%d metrics, want 90", len(ids))
	}
	// The counter part of the id counts the writes in the order they took
	// the lock: the list must follow it.
	if !slices.IsSortedFunc(ids, func(a, b string) int { return compareCounter(t, a, b) }) || !slices.IsSorted(ids) {
		t.Fatalf("the list is not in the order the creates landed:\n%v", ids)
	}
}

func compareCounter(t *testing.T, a, b string) int {
	ca, err1 := strconv.ParseUint(a[18:], 16, 32)
	cb, err2 := strconv.ParseUint(b[18:], 16, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("ids %s %s", a, b)
	}
	return int(ca) - int(cb)
}

func TestIDTimeMakesIDsThatLagTheListOrder(t *testing.T) {
	var mu sync.Mutex
	lag := time.Duration(0)
	h := newHarness(t, Options{IDTime: func(stored time.Time) time.Time {
		mu.Lock()
		defer mu.Unlock()
		return stored.Add(-lag)
	}})
	p := h.sb.Seeded().PatientIDs[1]
	a := h.createMetric(p)
	h.clock.Add(time.Minute)
	mu.Lock()
	lag = time.Hour
	mu.Unlock()
	b := h.createMetric(p)
	ids := h.metricIDs(p)
	if ids[len(ids)-2] != a || ids[len(ids)-1] != b {
		t.Fatalf("the lagging id is not listed last (in storage order): %v", ids)
	}
	if got, want := idTime(t, b), epoch.Add(time.Minute-time.Hour); !got.Equal(want) || b > a {
		t.Fatalf("id %s carries %s, want %s (before %s)", b, got, want, a)
	}
}

func TestLargeOrganisation(t *testing.T) {
	h := newHarness(t, Options{Seed: 5, Patients: 10_000})
	s := h.sb.Seeded()
	if len(s.PatientIDs) != 10_000 {
		t.Fatalf("%d patients seeded", len(s.PatientIDs))
	}
	if n := h.get("/pub/patient?filter[organization]=" + s.OrganizationID + "&page[size]=0").count(t); n != 10_000 {
		t.Fatalf("the organisation lists %d patients", n)
	}
	seen := map[string]bool{}
	for _, id := range s.PatientIDs {
		if seen[id] {
			t.Fatalf("patient id %s seeded twice", id)
		}
		seen[id] = true
	}
	for _, p := range []string{s.PatientIDs[60], s.PatientIDs[5000], s.PatientIDs[9999]} {
		ids := h.metricIDs(p)
		if len(ids) != 3 || !slices.IsSorted(ids) {
			t.Fatalf("patient %s has metrics %v, want three in id order", p, ids)
		}
	}
	if a := h.get("/pub/patient?filter[organization]=" + s.OrganizationID +
		"&filter[identifier][system]=medical-record-number&filter[identifier][value]=MRN-10000"); len(a.list(t)) != 1 {
		t.Fatalf("the last patient is not found by its MRN: %s", a.Raw)
	}
	for _, n := range []int{1, 59, MaxPatients + 1} {
		if _, err := New(Options{Patients: n}); err == nil {
			t.Errorf("%d patients accepted", n)
		}
	}
}
