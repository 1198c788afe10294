package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var fuzzMethods = []string{"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"}

// FuzzSandboxHandler sends arbitrary requests (method, path, query, body,
// content type) with a valid token through the sandbox's Handler: it must
// never panic nor fail internally (500), and every answer must be a
// JSON:API document with its media type and a status the API uses.
func FuzzSandboxHandler(f *testing.F) {
	sb, err := New(Options{Seed: 3})
	if err != nil {
		f.Fatal(err)
	}
	h := sb.Handler()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/pub/oauth/token", strings.NewReader(nestedGrant))
	req.Header.Set("Content-Type", MediaType)
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		f.Fatalf("token exchange: %d %s", rec.Code, rec.Body)
	}
	token := extractAccessToken(f, rec.Body.Bytes())
	seed := sb.Seeded()

	for _, s := range []struct {
		method      uint8
		path, query string
		body        string
		jsonAPI     bool
	}{
		{0, "patient/" + seed.PatientID, "", "", true},
		{0, "patient", "filter[identifier][system]=" + seed.PatientIdentifier.System + "&filter[identifier][value]=" + seed.PatientIdentifier.Value, "", true},
		{0, "patient", "filter[groups]=" + seed.GroupIDs[0] + "&page[limit]=2&page[cursor]=abc", "", true},
		{0, "patient_health_metric", "filter[patient]=" + seed.PatientID + "&page[number]=2&page[size]=3&sort=-occurred_at", "", true},
		{0, "patient_health_metric", "page[number]=1&page[limit]=1", "", true},
		{0, "calendar_event", "filter[patient]=" + seed.PatientID + "&filter[start_at]=2020-01-01T00:00:00Z&include=patient", "", true},
		{1, "patient_health_metric", "", `{"data":{"type":"patient_health_metric","attributes":{"type":"blood_glucose","value":90,"unit":"mg/dL"},"relationships":{"patient":{"data":{"type":"patient","id":"` + seed.PatientID + `"}}}}}`, true},
		{1, "patient_health_metric", "", `{"data":[{"type":"patient_health_metric","attributes":{"type":"weight"},"relationships":{"patient":{"data":{"type":"patient","meta":{"query":{"identifier":{"system":"x","value":"y"}}}}}}}],"meta":{"ignore_duplicates":true}}`, true},
		{2, "patient/" + seed.PatientID, "", `{"data":{"type":"patient","id":"` + seed.PatientID + `","attributes":{"first_name":"A"}}}`, true},
		{1, "patient", "", `{"data":{"type":"patient","attributes":{}}}`, false},
		{1, "oauth/token", "", `{"data":{"type":"token","attributes":{"grant_type":"refresh_token","refresh_token":"x"}}}`, true},
		{4, "calendar_event/" + seed.CalendarEventID, "", "", true},
		{0, "../../etc/passwd", "", "", true},
		{0, "patient/%2e%2e", "a=%zz", "", true},
		{3, "organization", "", "null", true},
		{5, "group", "", "", true},
	} {
		f.Add(s.method, s.path, s.query, []byte(s.body), s.jsonAPI)
	}
	f.Fuzz(func(t *testing.T, method uint8, path, query string, body []byte, jsonAPI bool) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		req, err := http.NewRequest(m, "http://sandbox.test/pub/"+path, strings.NewReader(string(body)))
		if err != nil {
			return // not a request a client could send
		}
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+token)
		if jsonAPI {
			req.Header.Set("Content-Type", MediaType)
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable || rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("%s /pub/%s?%s %q: status %d: %s", m, path, query, body, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusNoContent || m == "HEAD" || rec.Code/100 == 3 {
			return // no body; 3xx: the router's redirect to the cleaned path
		}
		if ct := rec.Header().Get("Content-Type"); ct != MediaType {
			t.Fatalf("%s /pub/%s: content type %q (status %d)", m, path, ct, rec.Code)
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%s /pub/%s: answer is not a JSON object: %v: %s", m, path, err, rec.Body)
		}
		if rec.Code >= 400 && doc["errors"] == nil {
			t.Fatalf("%s /pub/%s: status %d without errors: %s", m, path, rec.Code, rec.Body)
		}
	})
}
