package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSandboxCommandServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"sandbox", "--addr", "127.0.0.1:0", "--seed", "9", "--client-id", "me", "--client-secret", "pw"},
			&cli{Getenv: func(string) string { return "" }, Stdout: pw, Stderr: io.Discard})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("read first line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var base string
	for f := range strings.FieldsSeq(line) {
		if v, ok := strings.CutPrefix(f, "base_url="); ok {
			base = v
		}
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.Contains(line, "client_id=me") || !strings.Contains(line, "client_secret=pw") {
		t.Fatalf("first line %q", line)
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
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox did not stop")
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"sandbox", "--addr", "127.0.0.1:0", "--patients", "250"},
			&cli{Getenv: func(string) string { return "" }, Stdout: pw, Stderr: io.Discard})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("read first line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var base string
	for f := range strings.FieldsSeq(line) {
		if v, ok := strings.CutPrefix(f, "base_url="); ok {
			base = v
		}
	}
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
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox did not stop")
	}
}
