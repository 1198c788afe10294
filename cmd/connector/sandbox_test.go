package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveSandbox runs `connector sandbox` with args on a free port until the
// test stops it; it returns the lines printed at start (the first two) and a
// stop that returns the exit code.
func serveSandbox(t *testing.T, lines int, args ...string) (printed []string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"sandbox", "--addr", "127.0.0.1:0"}, args...),
			&cli{Getenv: func(string) string { return "" }, Stdout: pw, Stderr: io.Discard})
		pw.Close()
	}()
	rd := bufio.NewReader(pr)
	for range lines {
		line, err := rd.ReadString('\n')
		if err != nil {
			cancel()
			t.Fatalf("read line %d: %v", len(printed)+1, err)
		}
		printed = append(printed, line)
	}
	go func() { _, _ = io.Copy(io.Discard, rd) }()
	stop = func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(10 * time.Second):
			t.Fatal("sandbox did not stop")
			return -1
		}
	}
	t.Cleanup(func() { cancel() })
	return printed, stop
}

// field is the value of key=value in a printed line.
func field(line, key string) string {
	for f := range strings.FieldsSeq(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

func TestSandboxCommandServesUntilCancelled(t *testing.T) {
	lines, stop := serveSandbox(t, 1, "--seed", "9", "--client-id", "me", "--client-secret", "pw")
	base := field(lines[0], "base_url")
	if !strings.HasPrefix(base, "http://127.0.0.1:") || field(lines[0], "client_id") != "me" || field(lines[0], "client_secret") != "pw" {
		t.Fatalf("first line %q", lines[0])
	}
	resp, err := http.Post(base+"/oauth/token", "application/json",
		strings.NewReader(`{"grant_type":"client_credentials","client_id":"me","client_secret":"pw"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("token exchange: %d", resp.StatusCode)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestSandboxCommandRejectsBadFlags(t *testing.T) {
	c := &cli{Getenv: func(string) string { return "" }, Stdout: io.Discard, Stderr: io.Discard}
	for _, args := range [][]string{{"--fail-rate", "2"}, {"--nope"}, {"--client-id", ""}, {"extra"}, {"--patients", "5"}} {
		if code := run(context.Background(), append([]string{"sandbox", "--addr", "127.0.0.1:0"}, args...), c); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
	}
}

func TestSandboxCommandSeedsPatients(t *testing.T) {
	lines, stop := serveSandbox(t, 1, "--patients", "250")
	defer stop()
	base := field(lines[0], "base_url")
	resp, err := http.Post(base+"/oauth/token", "application/json",
		strings.NewReader(`{"grant_type":"client_credentials","client_id":"sandbox-client","client_secret":"sandbox-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Data struct {
			Attributes struct {
				AccessToken string `json:"access_token"`
			} `json:"attributes"`
			Relationships struct {
				Organization struct {
					Data struct{ ID string } `json:"data"`
				} `json:"organization"`
			} `json:"relationships"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.Data.Attributes.AccessToken == "" {
		t.Fatalf("token exchange: %d %v", resp.StatusCode, err)
	}
	req, _ := http.NewRequest("GET", base+"/patient?filter[organization]="+tok.Data.Relationships.Organization.Data.ID+"&page[size]=0", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Data.Attributes.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Meta struct{ Count int } `json:"meta"`
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || list.Meta.Count != 250 {
		t.Fatalf("the organisation has %d patients (%v), want 250", list.Meta.Count, err)
	}
}

// TestSandboxCommandServesObjectStorage: with --object-storage the sandbox
// stores and returns objects behind the bearer token it prints.
func TestSandboxCommandServesObjectStorage(t *testing.T) {
	lines, stop := serveSandbox(t, 2, "--object-storage")
	defer stop()
	uri, token := field(lines[1], "ELASTICIO_OBJECT_STORAGE_URI"), field(lines[1], "ELASTICIO_OBJECT_STORAGE_TOKEN")
	if !strings.HasPrefix(uri, "http://127.0.0.1:") || token == "" {
		t.Fatalf("second line %q", lines[1])
	}
	do := func(method, path, tok string, body []byte) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, uri+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	if resp, _ := do("POST", "/objects", "wrong", []byte("x")); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d", resp.StatusCode)
	}
	resp, b := do("POST", "/objects", token, []byte("ciphertext"))
	var created struct{ ObjectID string }
	if err := json.Unmarshal(b, &created); resp.StatusCode != http.StatusCreated || err != nil || created.ObjectID == "" {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	if resp, b := do("GET", "/objects/"+created.ObjectID, token, nil); resp.StatusCode != http.StatusOK || string(b) != "ciphertext" {
		t.Errorf("download: %d %q", resp.StatusCode, b)
	}
}
