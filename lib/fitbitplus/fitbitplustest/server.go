// Package fitbitplustest is a small fake of the Fitbit Plus API for tests: the
// JSON:API token exchange exactly as the API does it (403 on other content
// types, 201 with a token resource), bearer checks, and a handler for the
// rest of the API supplied by the test.
package fitbitplustest

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Server is a fake Fitbit Plus API listening on 127.0.0.1 under /pub.
type Server struct {
	*httptest.Server
	ClientID, ClientSecret string

	mu        sync.Mutex
	ExpiresIn int             // expires_in of issued tokens (default 3600)
	TokenHook func()          // called at the start of each exchange (may block)
	API       http.Handler    // answers authenticated requests; nil: 404
	grants    []string        // grant types of the exchanges, in order
	access    map[string]bool // valid access tokens
	refresh   map[string]bool // valid refresh tokens
	n         int
}

// NewServer starts a fake API accepting the given client credentials.
func NewServer(clientID, clientSecret string) *Server {
	s := &Server{ClientID: clientID, ClientSecret: clientSecret, ExpiresIn: 3600,
		access: map[string]bool{}, refresh: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// BaseURL is the API base URL (…/pub).
func (s *Server) BaseURL() string { return s.URL + "/pub" }

// Grants returns the grant types of the token exchanges so far.
func (s *Server) Grants() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.grants...)
}

// RevokeAll makes every issued access and refresh token invalid.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access = map[string]bool{}
	s.refresh = map[string]bool{}
}

// RevokeAccess makes every issued access token invalid (refresh tokens stay).
func (s *Server) RevokeAccess() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access = map[string]bool{}
}

// WriteError writes a JSON:API error document.
func WriteError(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/vnd.api+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"status": fmt.Sprint(status), "code": code, "title": http.StatusText(status), "detail": detail}},
		"meta":   map[string]any{"req_id": "req-fake"},
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/pub")
	if !ok {
		WriteError(w, http.StatusNotFound, "ResourceNotFound", "no such path")
		return
	}
	if path == "/oauth/token" && r.Method == http.MethodPost {
		s.token(w, r)
		return
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	s.mu.Lock()
	valid := ok && s.access[tok]
	api := s.API
	s.mu.Unlock()
	if !valid {
		WriteError(w, http.StatusUnauthorized, "Unauthorized", "missing or invalid bearer token")
		return
	}
	if api == nil {
		WriteError(w, http.StatusNotFound, "ResourceNotFound", "no such path")
		return
	}
	api.ServeHTTP(w, r)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if s.TokenHook != nil {
		s.TokenHook()
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var attrs map[string]string
	switch mt {
	case "application/vnd.api+json":
		var doc struct {
			Data struct {
				Type       string            `json:"type"`
				Attributes map[string]string `json:"attributes"`
			} `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&doc); err != nil || doc.Data.Type != "token" {
			WriteError(w, http.StatusConflict, "InvalidBodyParameter", "body must be a token document")
			return
		}
		attrs = doc.Data.Attributes
	case "application/json":
		if err := json.NewDecoder(r.Body).Decode(&attrs); err != nil {
			WriteError(w, http.StatusConflict, "InvalidBodyParameter", "body must be a JSON object")
			return
		}
	default:
		WriteError(w, http.StatusForbidden, "Forbidden", "unsupported content type")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants = append(s.grants, attrs["grant_type"])
	switch attrs["grant_type"] {
	case "client_credentials":
		if attrs["client_id"] != s.ClientID || attrs["client_secret"] != s.ClientSecret {
			WriteError(w, http.StatusUnauthorized, "InvalidCredentials", "client id or secret is wrong")
			return
		}
	case "refresh_token":
		if attrs["client_id"] != s.ClientID || !s.refresh[attrs["refresh_token"]] {
			WriteError(w, http.StatusUnauthorized, "InvalidCredentials", "refresh token is not valid")
			return
		}
		delete(s.refresh, attrs["refresh_token"])
	default:
		WriteError(w, http.StatusBadRequest, "InvalidGrantType", "grant type not supported")
		return
	}
	s.n++
	access, refresh := fmt.Sprintf("access-%d", s.n), fmt.Sprintf("refresh-%d", s.n)
	s.access[access], s.refresh[refresh] = true, true
	w.Header().Set("Content-Type", "application/vnd.api+json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"data": map[string]any{"type": "token", "id": fmt.Sprintf("tok-%d", s.n), "attributes": map[string]any{
			"access_token": access, "refresh_token": refresh, "token_type": "bearer", "expires_in": s.ExpiresIn}},
		"meta": map[string]any{"req_id": "req-fake"},
	})
}
