// Package fitbitplus is the HTTP side of the Fitbit Plus API shared by every
// action and trigger: credentials resolved from a step configuration, the
// JSON:API token exchange with a per-credential token cache, the client chain
// (retry with backoff, bearer auth with refresh on 401) and the mapping of
// JSON:API error documents to typed errors.
package fitbitplus

import (
	"crypto/sha256"
	"fmt"
	"net/url"
	"strings"

	"github.com/fitbitplus/connector/lib/component"
)

// DefaultBaseURL is the production API base URL.
const DefaultBaseURL = "https://api.twinehealth.com/pub"

// CustomServer is the value of the `server` select that selects `otherServer`.
const CustomServer = "--- Custom URL"

// Config keys of the credential fields in a step configuration.
const (
	FieldServer       = "server"
	FieldOtherServer  = "otherServer"
	FieldClientID     = "clientId"
	FieldClientSecret = "clientSecret"
)

// Defaults are the process-wide fallbacks of a credential, read by the caller
// (cmd/connector) from OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET. An empty
// BaseURL means DefaultBaseURL. Nothing in this package reads the environment.
type Defaults struct {
	BaseURL      string
	ClientID     string
	ClientSecret string
}

// Credential is what one step authenticates with: the API base URL (no
// trailing slash) and the OAuth2 client credentials.
type Credential struct {
	BaseURL      string
	ClientID     string
	ClientSecret string
}

// String describes the credential without its secret, so that %v and %s are
// safe in logs and errors.
func (c Credential) String() string {
	return fmt.Sprintf("{BaseURL:%s ClientID:%s ClientSecret:[redacted]}", c.BaseURL, c.ClientID)
}

// GoString is String, so that %#v does not print the secret either.
func (c Credential) GoString() string { return c.String() }

// key identifies the credential in the token cache. It holds a hash of the
// secret, never the secret itself: a changed secret gets its own token.
func (c Credential) key() credentialKey {
	return credentialKey{base: c.BaseURL, id: c.ClientID, secret: sha256.Sum256([]byte(c.ClientSecret))}
}

// credentialKey identifies a credential in the token cache; the secret is
// kept only as its hash.
type credentialKey struct {
	base, id string
	secret   [sha256.Size]byte
}

// ResolveCredential reads the credential fields of a step configuration:
//   - server: the base URL chosen in the select; CustomServer means otherServer;
//   - otherServer: the custom base URL, also used when server is empty;
//   - clientId, clientSecret: override the Defaults.
//
// Without server and otherServer the base URL is d.BaseURL, else
// DefaultBaseURL. The base URL must be an absolute http or https URL; a
// trailing slash is dropped. Errors are *CredentialError naming the field.
func ResolveCredential(cfg component.Config, d Defaults) (Credential, error) {
	server := strings.TrimSpace(cfg.String(FieldServer))
	other := strings.TrimSpace(cfg.String(FieldOtherServer))
	var base, field string
	switch {
	case server == CustomServer:
		if other == "" {
			return Credential{}, &CredentialError{Field: FieldOtherServer,
				Reason: "a custom server URL is required when server is " + CustomServer}
		}
		base, field = other, FieldOtherServer
	case server == "" && other != "":
		base, field = other, FieldOtherServer
	case server != "":
		base, field = server, FieldServer
	case d.BaseURL != "":
		base, field = d.BaseURL, FieldServer
	default:
		base, field = DefaultBaseURL, FieldServer
	}
	base, err := normalizeBaseURL(base)
	if err != nil {
		return Credential{}, &CredentialError{Field: field, Reason: err.Error()}
	}
	c := Credential{
		BaseURL:      base,
		ClientID:     firstNonEmpty(strings.TrimSpace(cfg.String(FieldClientID)), d.ClientID),
		ClientSecret: firstNonEmpty(cfg.String(FieldClientSecret), d.ClientSecret),
	}
	if c.ClientID == "" {
		return Credential{}, &CredentialError{Field: FieldClientID,
			Reason: "no client id: set clientId in the credential or OAUTH_CLIENT_ID in the environment"}
	}
	if c.ClientSecret == "" {
		return Credential{}, &CredentialError{Field: FieldClientSecret,
			Reason: "no client secret: set clientSecret in the credential or OAUTH_CLIENT_SECRET in the environment"}
	}
	return c, nil
}

func normalizeBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("not a URL: %q", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("URL %q must start with http:// or https://", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("URL %q has no host", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("URL must not carry user information")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("URL %q must not have a query or fragment", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
