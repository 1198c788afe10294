package sandbox

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkFetchPatients measures GET fetchPatients through the Handler,
// with validation against the embedded swagger.json, without a network.
func BenchmarkFetchPatients(b *testing.B) {
	for _, validate := range []bool{true, false} {
		name := map[bool]string{true: "validated", false: "unvalidated"}[validate]
		b.Run(name, func(b *testing.B) {
			sb, err := New(Options{NoValidation: !validate})
			if err != nil {
				b.Fatal(err)
			}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/pub/oauth/token", stringsReader(nestedGrant))
			req.Header.Set("Content-Type", MediaType)
			sb.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("token: %d", rec.Code)
			}
			tok := extractAccessToken(b, rec.Body.Bytes())
			target := "http://sandbox.test/pub/patient?filter[organization]=" + sb.Seeded().OrganizationID + "&page[size]=10"
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("GET", target, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					rec := httptest.NewRecorder()
					sb.Handler().ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d", rec.Code)
					}
				}
			})
		})
	}
}
