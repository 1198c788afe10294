package sandbox

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentReadsAndWrites runs readers and writers at once (run with
// -race); every answer must be a success and the writes must all land.
func TestConcurrentReadsAndWrites(t *testing.T) {
	h := newHarness(t, Options{})
	s := h.sb.Seeded()
	tok := h.login()
	handler := h.sb.Handler()
	do := func(method, target, body string) int {
		var req *http.Request
		if body == "" {
			req = httptest.NewRequest(method, "http://sandbox.test"+target, nil)
		} else {
			req = httptest.NewRequest(method, "http://sandbox.test"+target, strings.NewReader(body))
			req.Header.Set("Content-Type", MediaType)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec.Code
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				var code int
				switch i % 3 {
				case 0:
					code = do("GET", "/pub/patient?filter[organization]="+s.OrganizationID, "")
				case 1:
					code = do("GET", "/pub/patient_health_metric?filter[patient]="+s.PatientIDs[w]+"&page[limit]=5", "")
				default:
					code = do("GET", "/pub/patient_plan_summary?filter[patient]="+s.PatientIDs[w]+"&include=current_results", "")
				}
				if code != http.StatusOK {
					errs <- fmt.Sprintf("reader %d: %d", w, code)
					return
				}
			}
		})
	}
	for w := range 2 {
		wg.Go(func() {
			for i := range 25 {
				body := fmt.Sprintf(`{"data":{"type":"patient_health_metric","attributes":{"type":"heart_rate","value":%d,"occurred_at":"2026-03-0%dT10:%02d:00Z"},"relationships":{"patient":{"data":{"type":"patient","id":%q}}}}}`,
					60+i, 1+w, i, s.PatientIDs[w])
				if code := do("POST", "/pub/patient_health_metric", body); code != http.StatusOK {
					errs <- fmt.Sprintf("writer %d: %d", w, code)
					return
				}
				if code := do("PATCH", "/pub/patient/"+s.PatientIDs[w], `{"data":{"type":"patient","attributes":{"note":"n"}}}`); code != http.StatusOK {
					errs <- fmt.Sprintf("writer %d patch: %d", w, code)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if ops := h.sb.Stats().Operations; ops["createPatientHealthMetric"] != 50 || ops["updatePatient"] != 50 || ops["fetchPatients"] != 68 {
		t.Errorf("operation counts %v", ops)
	}
	for w := range 2 {
		if n := h.get("/pub/patient_health_metric?filter[patient]=" + s.PatientIDs[w] + "&page[size]=0").count(t); n != 35 {
			t.Errorf("patient %d has %d metrics, want 35", w, n)
		}
	}
}
