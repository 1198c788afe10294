package sandbox

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"math/rand/v2"
	"mime"
	"net/http"
	"strings"
	"time"
)

// token is one issued access token and its refresh token.
type token struct {
	ID      string
	Access  string
	Refresh string
	Client  string
	Org     string
	Groups  []string
	Expires time.Time
}

type tokenStore struct {
	rng     *rand.Rand
	n       uint64
	access  map[string]*token
	refresh map[string]*token
	byID    map[string]*token
}

func newTokenStore(seed int64) *tokenStore {
	return &tokenStore{
		rng:    rand.New(rand.NewPCG(uint64(seed), 0x70ce4)),
		access: map[string]*token{}, refresh: map[string]*token{}, byID: map[string]*token{},
	}
}

func (ts *tokenStore) random(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	const hexdigits = "0123456789abcdef"
	for i := 0; i < n; i++ {
		b.WriteByte(hexdigits[ts.rng.IntN(16)])
	}
	return b.String()
}

// sweep forgets access tokens that expired at least an hour ago, keeping the
// store small under long benchmarks. Refresh tokens stay usable.
func (ts *tokenStore) sweep(now time.Time) {
	if len(ts.access) < 4096 {
		return
	}
	for k, t := range ts.access {
		if now.Sub(t.Expires) > time.Hour {
			delete(ts.access, k)
			delete(ts.byID, t.ID)
		}
	}
}

// tokenRequest is the token exchange body, nested or flat.
type tokenRequest struct {
	GrantType    string `json:"grant_type"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`
}

// decodeTokenRequest reads the body by content type: JSON:API nests the
// attributes under data.attributes, application/json is flat, anything else
// is forbidden. prefix is the JSON pointer of the attributes.
func decodeTokenRequest(r *http.Request, body []byte) (tokenRequest, string, error) {
	var req tokenRequest
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = ""
	}
	switch mt {
	case MediaType:
		var doc struct {
			Data *struct {
				Type       string          `json:"type"`
				Attributes json.RawMessage `json:"attributes"`
			} `json:"data"`
		}
		if err := strictJSON(body, &doc); err != nil {
			return req, "", invalidBody("", "body is not a JSON:API document: %v", err)
		}
		if doc.Data == nil {
			return req, "", invalidBody("/data", "data is required")
		}
		if doc.Data.Type != "" && doc.Data.Type != "token" {
			return req, "", invalidBody("/data/type", "data.type must be \"token\"")
		}
		if len(doc.Data.Attributes) == 0 {
			return req, "", invalidBody("/data/attributes", "data.attributes is required")
		}
		if err := strictJSON(doc.Data.Attributes, &req); err != nil {
			return req, "", invalidBody("/data/attributes", "attributes: %v", err)
		}
		return req, "/data/attributes", nil
	case "application/json":
		if err := strictJSON(body, &req); err != nil {
			return req, "", invalidBody("", "body is not a JSON object: %v", err)
		}
		return req, "", nil
	}
	return req, "", &apiError{Status: http.StatusForbidden, Code: CodeForbidden, Title: "Forbidden",
		Detail: "token requests must be sent as " + MediaType + " (or application/json with a flat body)"}
}

func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	return d.Decode(v)
}

func badCredentials(detail string) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: CodeInvalidCredentials, Title: "Invalid credentials", Detail: detail}
}

func secretEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// createToken is the token exchange (POST /oauth/token).
func createToken(c *call) (*reply, error) {
	req, prefix, err := decodeTokenRequest(c.r, c.body)
	if err != nil {
		return nil, err
	}
	includes, err := c.includes()
	if err != nil {
		return nil, err
	}
	s := c.s
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	ts := s.tokens
	var client string
	switch req.GrantType {
	case "client_credentials":
		secret, ok := s.clients[req.ClientID]
		if req.ClientID == "" || !ok || !secretEqual(secret, req.ClientSecret) {
			return nil, badCredentials("unknown client or wrong client secret")
		}
		client = req.ClientID
	case "refresh_token":
		if req.RefreshToken == "" {
			return nil, invalidBody(prefix+"/refresh_token", "refresh_token is required for the refresh_token grant")
		}
		old := ts.refresh[req.RefreshToken]
		if old == nil {
			return nil, badCredentials("unknown or already used refresh token")
		}
		if req.ClientID != "" && req.ClientID != old.Client {
			return nil, badCredentials("refresh token was issued to another client")
		}
		if req.ClientSecret != "" && !secretEqual(s.clients[old.Client], req.ClientSecret) {
			return nil, badCredentials("wrong client secret")
		}
		delete(ts.refresh, req.RefreshToken) // refresh tokens are single use
		client = old.Client
	case "":
		return nil, &apiError{Status: http.StatusConflict, Code: CodeInvalidGrantType, Title: "Invalid grant type",
			Detail: "grant_type is required", Pointer: prefix + "/grant_type"}
	default:
		return nil, &apiError{Status: http.StatusConflict, Code: CodeInvalidGrantType, Title: "Invalid grant type",
			Detail: "grant_type must be client_credentials or refresh_token", Pointer: prefix + "/grant_type"}
	}
	ts.sweep(c.now)
	ts.n++
	org := s.seeded.OrganizationID
	var groups []string
	for _, g := range s.db.table("group").order {
		if g.Org == org {
			groups = append(groups, g.ID)
		}
	}
	t := &token{
		ID:      ts.random("", 24),
		Access:  ts.random("", 40),
		Refresh: ts.random("", 40),
		Client:  client,
		Org:     org,
		Groups:  groups,
		Expires: c.now.Add(s.opts.TokenLifetime),
	}
	ts.access[t.Access] = t
	ts.refresh[t.Refresh] = t
	ts.byID[t.ID] = t
	s.counters.tokenExchanges.Add(1)
	if req.GrantType == "refresh_token" {
		s.counters.tokenRefreshes.Add(1)
	}
	gids := make([]identifier, len(groups))
	for i, g := range groups {
		gids[i] = identifier{"group", g}
	}
	data := &object{Type: "token", ID: t.ID,
		Attributes: map[string]any{
			"access_token":  t.Access,
			"refresh_token": t.Refresh,
			"token_type":    "bearer",
			"expires_in":    int64(s.opts.TokenLifetime / time.Second),
		},
		Relationships: map[string]relationship{
			"organization": {Data: identifier{"organization", org}},
			"groups":       {Data: gids},
		},
	}
	doc := &document{Data: data}
	inc := newIncluder(c)
	for _, name := range includes {
		switch name {
		case "organization":
			inc.add(c.s.db.get("organization", org))
		case "groups":
			for _, g := range groups {
				inc.add(c.s.db.get("group", g))
			}
		}
	}
	doc.Included = inc.list
	return &reply{http.StatusCreated, doc}, nil
}

// authenticate checks the bearer token of a request.
func (s *Sandbox) authenticate(r *http.Request, now time.Time) (*token, error) {
	h := r.Header.Get("Authorization")
	scheme, value, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(value) == "" {
		return nil, unauthorized("a bearer token is required (Authorization: Bearer <access_token>)")
	}
	s.tokMu.RLock()
	t := s.tokens.access[strings.TrimSpace(value)]
	s.tokMu.RUnlock()
	if t == nil {
		return nil, unauthorized("unknown access token")
	}
	if !now.Before(t.Expires) {
		return nil, unauthorized("access token expired")
	}
	return t, nil
}

func (c *call) tokenByID() (*token, error) {
	id := c.r.PathValue("id")
	c.s.tokMu.RLock()
	t := c.s.tokens.byID[id]
	c.s.tokMu.RUnlock()
	if t == nil {
		return nil, notFound("token", id)
	}
	return t, nil
}

func fetchTokenGroups(c *call) (*reply, error) {
	t, err := c.tokenByID()
	if err != nil {
		return nil, err
	}
	var groups []*resource
	for _, id := range t.Groups {
		if g := c.s.db.get("group", id); g != nil {
			groups = append(groups, g)
		}
	}
	return c.listAll(groups)
}

func fetchTokenOrganization(c *call) (*reply, error) {
	t, err := c.tokenByID()
	if err != nil {
		return nil, err
	}
	org := c.s.db.get("organization", t.Org)
	if org == nil {
		return nil, notFound("organization", t.Org)
	}
	return c.single(org)
}
