package main

import (
	"bufio"
	"context"
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
