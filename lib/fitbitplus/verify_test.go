package fitbitplus

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
)

func TestVerifyCredentials(t *testing.T) {
	var path string
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		w.Header().Set("Content-Type", MediaType)
		_, _ = io.WriteString(w, `{"data":{"type":"organization","id":"o1","attributes":{"name":"Acme Health"}}}`)
	})
	name, err := e.clients.VerifyCredentials(context.Background(), e.cfg)
	if err != nil || name != "Acme Health" {
		t.Fatalf("name %q err %v", name, err)
	}
	if path != "/pub/oauth/token/tok-1/organization" {
		t.Errorf("path %q", path)
	}
}

func TestVerifyCredentialsGroupScopedToken(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pub/oauth/token/tok-1/groups" {
			_, _ = io.WriteString(w, `{"data":[{"type":"group","id":"g1","attributes":{"name":"G"}}]}`)
			return
		}
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"errors":[{"code":"Forbidden"}]}`)
	})
	name, err := e.clients.VerifyCredentials(context.Background(), e.cfg)
	if err != nil || name != "" {
		t.Fatalf("name %q err %v", name, err)
	}
}

func TestVerifyCredentialsRefused(t *testing.T) {
	e := newEnv(t, okHandler)
	e.cfg["clientId"] = "someone-else"
	_, err := e.clients.VerifyCredentials(context.Background(), e.cfg)
	var ce *CredentialError
	if !errors.As(err, &ce) || ce.Code != "InvalidCredentials" || ce.ClientID != "someone-else" {
		t.Fatalf("err = %v", err)
	}
}

func TestVerifyCredentialsTransient(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	_, err := e.clients.VerifyCredentials(context.Background(), e.cfg)
	if err == nil || !IsTransient(err) {
		t.Fatalf("err = %v, want transient", err)
	}
}
