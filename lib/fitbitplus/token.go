package fitbitplus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/fitbitplus/connector/lib/secrets"
)

// MediaType is the JSON:API media type of every request and response body.
const MediaType = "application/vnd.api+json"

// defaultLifetime is assumed when a token answer has no expires_in.
const defaultLifetime = 5 * time.Minute

// TokenID returns the id of the token resource ("data.id" of the token
// answer), which /oauth/token/{id}/groups and /organization take, or "".
func TokenID(t *oauth2.Token) string {
	if t == nil {
		return ""
	}
	id, _ := t.Extra("token_id").(string)
	return id
}

// tokenSource holds the cached token of one credential.
//
// A token is used until refreshAt: its expiry minus a skew of 60s, or of a
// tenth of its lifetime when it lives less than 10 minutes. Then (or after
// invalidate, on a 401) the next caller refreshes it: with the refresh token
// when there is one, falling back to client_credentials when the refresh
// grant is refused (4xx). Concurrent callers share one exchange
// (singleflight); each may stop waiting when its own context ends, while the
// exchange itself runs under the long-lived context of Clients with its own
// timeout, so that one cancelled message never poisons the shared token
// (golang/oauth2#388).
type tokenSource struct {
	cred    Credential
	client  *http.Client // retry → base; no auth
	ctx     context.Context
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	secrets *secrets.Redactor // learns every token obtained
	api     *apiClient        // the API client authenticated by this source, made once

	group singleflight.Group

	mu        sync.Mutex
	tok       *oauth2.Token
	refreshAt time.Time
}

// Token implements oauth2.TokenSource with the long-lived context.
func (s *tokenSource) Token() (*oauth2.Token, error) { return s.token(s.ctx) }

// current returns the cached token when it is still fresh, else nil.
func (s *tokenSource) current() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.now().Before(s.refreshAt) {
		return s.tok
	}
	return nil
}

func (s *tokenSource) token(ctx context.Context) (*oauth2.Token, error) {
	if t := s.current(); t != nil {
		return t, nil
	}
	ch := s.group.DoChan("token", func() (any, error) {
		if t := s.current(); t != nil {
			return t, nil
		}
		return s.refresh()
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for token: %w", ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*oauth2.Token), nil
	}
}

// invalidate drops the cached token if it is still access (a 401 answered
// it); a newer token fetched meanwhile is kept.
func (s *tokenSource) invalidate(access string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.AccessToken == access {
		s.refreshAt = time.Time{}
	}
}

func (s *tokenSource) refresh() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	s.mu.Lock()
	old := s.tok
	s.mu.Unlock()

	var tok *oauth2.Token
	if old != nil && old.RefreshToken != "" {
		t, err := s.exchange(ctx, map[string]string{"grant_type": "refresh_token", "refresh_token": old.RefreshToken})
		var ce *CredentialError
		switch {
		case err == nil:
			tok = t
		case errors.As(err, &ce):
			s.log.DebugContext(ctx, "refresh token refused, using client credentials",
				"client_id", s.cred.ClientID, "status", ce.Status, "code", ce.Code)
		default:
			return nil, err
		}
	}
	if tok == nil {
		t, err := s.exchange(ctx, map[string]string{"grant_type": "client_credentials"})
		if err != nil {
			return nil, err
		}
		tok = t
	}
	now := s.now()
	lifetime := tok.Expiry.Sub(now)
	skew := time.Minute
	if lifetime < 10*time.Minute {
		skew = lifetime / 10
	}
	s.mu.Lock()
	s.tok, s.refreshAt = tok, tok.Expiry.Add(-skew)
	s.mu.Unlock()
	return tok, nil
}

// exchange performs one token exchange: POST {base}/oauth/token with a
// JSON:API token document. attrs holds the grant; client id and secret are
// added.
func (s *tokenSource) exchange(ctx context.Context, attrs map[string]string) (*oauth2.Token, error) {
	attrs["client_id"] = s.cred.ClientID
	attrs["client_secret"] = s.cred.ClientSecret
	doc := map[string]any{"data": map[string]any{"type": "token", "attributes": attrs}}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("token exchange: %w", err)
	}
	req, err := http.NewRequestWithContext(withIdempotent(ctx), http.MethodPost,
		s.cred.BaseURL+"/oauth/token", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("token exchange: %w", err)
	}
	req.Header.Set("Content-Type", MediaType)
	req.Header.Set("Accept", MediaType)

	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("token exchange: %w", err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		apiErr := readAPIError(resp)
		if apiErr.Status >= 400 && apiErr.Status < 500 && apiErr.Status != http.StatusTooManyRequests {
			return nil, credentialErrorFrom(s.cred, apiErr)
		}
		return nil, fmt.Errorf("token exchange: %w", apiErr)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("token exchange: read answer: %w", err)
	}
	var answer struct {
		Data struct {
			ID         any `json:"id"`
			Attributes struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
				TokenType    string `json:"token_type"`
				ExpiresIn    any    `json:"expires_in"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil || answer.Data.Attributes.AccessToken == "" {
		return nil, &CredentialError{Field: FieldServer, ClientID: s.cred.ClientID, BaseURL: s.cred.BaseURL,
			Reason: "the token endpoint's answer holds no access token; is " + s.cred.BaseURL + " a Fitbit Plus API?"}
	}
	a := answer.Data.Attributes
	s.secrets.Add(a.AccessToken, a.RefreshToken)
	lifetime := defaultLifetime
	if secs := seconds(a.ExpiresIn); secs > 0 {
		lifetime = time.Duration(secs) * time.Second
	}
	tok := &oauth2.Token{
		AccessToken:  a.AccessToken,
		TokenType:    a.TokenType,
		RefreshToken: a.RefreshToken,
		Expiry:       s.now().Add(lifetime),
		ExpiresIn:    int64(lifetime / time.Second),
	}
	s.log.DebugContext(ctx, "token obtained", "base_url", s.cred.BaseURL, "client_id", s.cred.ClientID,
		"grant_type", attrs["grant_type"], "expires_in", tok.ExpiresIn)
	return tok.WithExtra(map[string]any{"token_id": scalarString(answer.Data.ID)}), nil
}

// seconds reads expires_in, written as a number or a numeric string.
func seconds(v any) int64 {
	switch v := v.(type) {
	case float64:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}
