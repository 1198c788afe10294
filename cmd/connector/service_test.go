package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fitbitplus/connector/lib/sandbox"
)

// verifyCredentials really exchanges the credential for a token at the API
// (here the sandbox) and posts the organisation's name, or why it fails.
func TestServiceVerifyCredentialsAgainstTheSandbox(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()

	var mu sync.Mutex
	var posted []map[string]any
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		mu.Lock()
		posted = append(posted, v)
		mu.Unlock()
	}))
	defer platform.Close()

	verify := func(secret string) map[string]any {
		cfg, _ := json.Marshal(map[string]string{
			"server": "--- Custom URL", "otherServer": base, "clientId": sandbox.DefaultClientID, "clientSecret": secret,
		})
		env := map[string]string{
			"ELASTICIO_POST_RESULT_URL": platform.URL + "/result", "ELASTICIO_CFG": string(cfg),
			"ELASTICIO_API_URI": platform.URL, "ELASTICIO_API_USERNAME": "u", "ELASTICIO_API_KEY": "k",
		}
		code, out, errOut := runCLIWith(t, "", env, "service", "verifyCredentials")
		if code != 0 {
			t.Fatalf("exit %d: %s %s", code, out, errOut)
		}
		if strings.Contains(out+errOut, secret) {
			t.Fatal("the client secret reached the logs")
		}
		mu.Lock()
		defer mu.Unlock()
		return posted[len(posted)-1]
	}

	got := verify(sandbox.DefaultClientSecret)
	data, _ := got["data"].(map[string]any)
	if got["status"] != "success" || data["verified"] != true || data["organization"] == "" || data["organization"] == nil {
		t.Fatalf("a good credential: posted %v", got)
	}
	got = verify("wrong-secret-value")
	data, _ = got["data"].(map[string]any)
	reason, _ := data["reason"].(string)
	if data["verified"] != false || !strings.Contains(strings.ToLower(reason), "credential") {
		t.Fatalf("a wrong secret: posted %v", got)
	}
}
