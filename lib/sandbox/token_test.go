package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const nestedGrant = `{"data":{"type":"token","attributes":{"grant_type":"client_credentials","client_id":"sandbox-client","client_secret":"sandbox-secret"}}}`

func TestTokenExchangeJSONAPI(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.do("POST", "/pub/oauth/token", MediaType, nestedGrant)
	expectStatus(t, a, http.StatusCreated)
	tok := a.one(t)
	if tok.Type != "token" || tok.ID == "" {
		t.Fatalf("data type %q id %q", tok.Type, tok.ID)
	}
	for _, k := range []string{"access_token", "refresh_token"} {
		if s, _ := tok.Attributes[k].(string); s == "" {
			t.Errorf("attribute %s missing: %s", k, a.Raw)
		}
	}
	if tok.Attributes["token_type"] != "bearer" || tok.Attributes["expires_in"] != float64(3600) {
		t.Errorf("token_type/expires_in: %v", tok.Attributes)
	}
	var org struct{ Data identifier }
	if err := json.Unmarshal(tok.Relationships["organization"], &org); err != nil || org.Data.ID != h.sb.Seeded().OrganizationID {
		t.Errorf("organization relationship %s", tok.Relationships["organization"])
	}
	var groups struct{ Data []identifier }
	if err := json.Unmarshal(tok.Relationships["groups"], &groups); err != nil || len(groups.Data) != 3 {
		t.Errorf("groups relationship %s", tok.Relationships["groups"])
	}
	if a.Doc.Meta["req_id"] == nil {
		t.Error("no meta.req_id")
	}
	if got := h.sb.Stats().TokenExchanges; got != 1 {
		t.Errorf("TokenExchanges %d, want 1", got)
	}
}

func TestTokenExchangeContentTypes(t *testing.T) {
	h := newHarness(t, Options{})
	flat := `{"grant_type":"client_credentials","client_id":"sandbox-client","client_secret":"sandbox-secret"}`
	expectStatus(t, h.do("POST", "/pub/oauth/token", "application/json", flat), http.StatusCreated)
	expectStatus(t, h.do("POST", "/pub/oauth/token", "application/json; charset=utf-8", flat), http.StatusCreated)
	// The flat body is not a JSON:API document, and the nested one not a flat body.
	expectError(t, h.do("POST", "/pub/oauth/token", MediaType, flat), http.StatusConflict, CodeInvalidBodyParameter)
	expectError(t, h.do("POST", "/pub/oauth/token", "application/json", nestedGrant), http.StatusConflict, CodeInvalidGrantType)
	form := "grant_type=client_credentials&client_id=sandbox-client&client_secret=sandbox-secret"
	expectError(t, h.do("POST", "/pub/oauth/token", "application/x-www-form-urlencoded", form), http.StatusForbidden, CodeForbidden)
	expectError(t, h.do("POST", "/pub/oauth/token", "", nestedGrant), http.StatusForbidden, CodeForbidden)
	expectError(t, h.do("POST", "/pub/oauth/token", "text/plain", nestedGrant), http.StatusForbidden, CodeForbidden)
	if got := h.sb.Stats().TokenExchanges; got != 2 {
		t.Errorf("TokenExchanges %d, want 2", got)
	}
}

func TestTokenExchangeRejectsBadCredentials(t *testing.T) {
	h := newHarness(t, Options{Clients: map[string]string{"a": "secret-a", "b": "secret-b"}})
	grant := func(id, secret string) *answer {
		return h.do("POST", "/pub/oauth/token", "application/json",
			`{"grant_type":"client_credentials","client_id":"`+id+`","client_secret":"`+secret+`"}`)
	}
	expectStatus(t, grant("a", "secret-a"), http.StatusCreated)
	expectStatus(t, grant("b", "secret-b"), http.StatusCreated)
	expectError(t, grant("a", "secret-b"), http.StatusUnauthorized, CodeInvalidCredentials)
	expectError(t, grant("sandbox-client", "sandbox-secret"), http.StatusUnauthorized, CodeInvalidCredentials)
	expectError(t, grant("", ""), http.StatusUnauthorized, CodeInvalidCredentials)
	src := expectError(t, h.do("POST", "/pub/oauth/token", "application/json", `{"grant_type":"password","client_id":"a"}`),
		http.StatusConflict, CodeInvalidGrantType)
	if src["pointer"] != "/grant_type" {
		t.Errorf("source %v", src)
	}
	if s := h.sb.Seeded(); s.ClientID != "a" || s.ClientSecret != "secret-a" {
		t.Errorf("seeded client %q", s.ClientID)
	}
}

func TestRefreshTokenGrant(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.do("POST", "/pub/oauth/token", MediaType, nestedGrant)
	first := a.one(t).Attributes
	refresh := first["refresh_token"].(string)
	body := `{"data":{"type":"token","attributes":{"grant_type":"refresh_token","refresh_token":"` + refresh + `"}}}`
	b := h.do("POST", "/pub/oauth/token", MediaType, body)
	expectStatus(t, b, http.StatusCreated)
	second := b.one(t).Attributes
	if second["access_token"] == first["access_token"] || second["refresh_token"] == refresh {
		t.Fatalf("refresh did not issue new tokens")
	}
	h.token = second["access_token"].(string)
	expectStatus(t, h.get("/pub/organization/"+h.sb.Seeded().OrganizationID), http.StatusOK)
	// A refresh token is single use.
	expectError(t, h.do("POST", "/pub/oauth/token", MediaType, body), http.StatusUnauthorized, CodeInvalidCredentials)
	src := expectError(t, h.do("POST", "/pub/oauth/token", MediaType,
		`{"data":{"type":"token","attributes":{"grant_type":"refresh_token"}}}`), http.StatusConflict, CodeInvalidBodyParameter)
	if src["pointer"] != "/data/attributes/refresh_token" {
		t.Errorf("source %v", src)
	}
	st := h.sb.Stats()
	if st.TokenExchanges != 2 || st.TokenRefreshes != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestTokenExpiresWithInjectedClock(t *testing.T) {
	h := newHarness(t, Options{TokenLifetime: 90 * time.Second})
	a := h.do("POST", "/pub/oauth/token", MediaType, nestedGrant)
	if got := a.one(t).Attributes["expires_in"]; got != float64(90) {
		t.Fatalf("expires_in %v, want 90", got)
	}
	h.token = a.one(t).Attributes["access_token"].(string)
	org := "/pub/organization/" + h.sb.Seeded().OrganizationID
	expectStatus(t, h.get(org), http.StatusOK)
	h.clock.Add(89 * time.Second)
	expectStatus(t, h.get(org), http.StatusOK)
	h.clock.Add(time.Second)
	res := h.get(org)
	expectError(t, res, http.StatusUnauthorized, CodeUnauthorized)
	if !strings.Contains(res.Doc.Errors[0].Detail, "expired") {
		t.Errorf("detail %q", res.Doc.Errors[0].Detail)
	}
}

func TestBearerAuthRequired(t *testing.T) {
	h := newHarness(t, Options{})
	org := "/pub/organization/" + h.sb.Seeded().OrganizationID
	for name, hdr := range map[string][]string{
		"missing":      nil,
		"unknown":      {"Authorization", "Bearer not-a-token"},
		"wrong scheme": {"Authorization", "Basic c2FuZGJveC1jbGllbnQ6c2FuZGJveC1zZWNyZXQ="},
		"empty":        {"Authorization", "Bearer "},
	} {
		a := h.do("GET", org, "", "", hdr...)
		expectError(t, a, http.StatusUnauthorized, CodeUnauthorized)
		if a.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", name)
		}
	}
	// A write without a token is refused before its body is looked at.
	expectError(t, h.do("POST", "/pub/patient", MediaType, `{}`), http.StatusUnauthorized, CodeUnauthorized)
	tok := h.login()
	expectStatus(t, h.do("GET", org, "", "", "Authorization", "bearer "+tok), http.StatusOK)
	// Writes need the JSON:API media type.
	group := `{"data":{"type":"group","attributes":{"name":"Media"}}}`
	expectError(t, h.do("POST", "/pub/group", "application/json", group, "Authorization", "Bearer "+tok), http.StatusForbidden, CodeForbidden)
	expectStatus(t, h.do("POST", "/pub/group", MediaType+"; charset=utf-8", group, "Authorization", "Bearer "+tok), http.StatusCreated)
	if got := h.sb.Stats().Unauthorized; got != 5 {
		t.Errorf("Unauthorized %d, want 5", got)
	}
}

func TestTokenIncludeAndTokenEndpoints(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.do("POST", "/pub/oauth/token?include=groups,organization", MediaType, nestedGrant)
	expectStatus(t, a, http.StatusCreated)
	types := map[string]int{}
	for _, o := range a.Doc.Included {
		types[o.Type]++
	}
	if types["group"] != 3 || types["organization"] != 1 {
		t.Errorf("included %v", types)
	}
	expectError(t, h.do("POST", "/pub/oauth/token?include=patients", MediaType, nestedGrant), http.StatusConflict, CodeInvalidParameter)
	tok := a.one(t)
	h.token = tok.Attributes["access_token"].(string)
	g := h.get("/pub/oauth/token/" + tok.ID + "/groups")
	expectStatus(t, g, http.StatusOK)
	if len(g.list(t)) != 3 || g.count(t) != 3 {
		t.Errorf("token groups: %s", g.Raw)
	}
	o := h.get("/pub/oauth/token/" + tok.ID + "/organization")
	if o.one(t).ID != h.sb.Seeded().OrganizationID {
		t.Errorf("token organization: %s", o.Raw)
	}
	expectError(t, h.get("/pub/oauth/token/nope/groups"), http.StatusNotFound, CodeResourceNotFound)
}
