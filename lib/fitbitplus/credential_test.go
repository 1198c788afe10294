package fitbitplus

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
)

func TestResolveCredential(t *testing.T) {
	d := Defaults{ClientID: "env-id", ClientSecret: "env-secret"}
	tests := []struct {
		name      string
		cfg       component.Config
		d         Defaults
		want      Credential
		wantField string // non-empty: a CredentialError naming this field
	}{
		{name: "defaults", cfg: component.Config{}, d: d,
			want: Credential{DefaultBaseURL, "env-id", "env-secret"}},
		{name: "select value", cfg: component.Config{"server": "https://api.twinehealth.com/pub/"}, d: d,
			want: Credential{DefaultBaseURL, "env-id", "env-secret"}},
		{name: "custom URL", cfg: component.Config{"server": CustomServer, "otherServer": "http://127.0.0.1:8080/pub/"}, d: d,
			want: Credential{"http://127.0.0.1:8080/pub", "env-id", "env-secret"}},
		{name: "empty server with otherServer", cfg: component.Config{"otherServer": "https://sandbox.example/pub"}, d: d,
			want: Credential{"https://sandbox.example/pub", "env-id", "env-secret"}},
		{name: "select wins over stray otherServer", cfg: component.Config{"server": DefaultBaseURL, "otherServer": "https://x.example"}, d: d,
			want: Credential{DefaultBaseURL, "env-id", "env-secret"}},
		{name: "overrides", cfg: component.Config{"clientId": "cfg-id", "clientSecret": "cfg-secret"}, d: d,
			want: Credential{DefaultBaseURL, "cfg-id", "cfg-secret"}},
		{name: "default base URL from Defaults", cfg: component.Config{}, d: Defaults{BaseURL: "http://127.0.0.1:9/pub", ClientID: "a", ClientSecret: "b"},
			want: Credential{"http://127.0.0.1:9/pub", "a", "b"}},
		{name: "custom without URL", cfg: component.Config{"server": CustomServer}, d: d, wantField: "otherServer"},
		{name: "custom bad scheme", cfg: component.Config{"server": CustomServer, "otherServer": "ftp://x"}, d: d, wantField: "otherServer"},
		{name: "custom no host", cfg: component.Config{"server": CustomServer, "otherServer": "https://"}, d: d, wantField: "otherServer"},
		{name: "custom relative", cfg: component.Config{"otherServer": "/pub"}, d: d, wantField: "otherServer"},
		{name: "server not a URL", cfg: component.Config{"server": "api.twinehealth.com"}, d: d, wantField: "server"},
		{name: "no client id", cfg: component.Config{}, d: Defaults{ClientSecret: "x"}, wantField: "clientId"},
		{name: "no client secret", cfg: component.Config{"clientId": "x"}, wantField: "clientSecret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveCredential(tt.cfg, tt.d)
			if tt.wantField != "" {
				var ce *CredentialError
				if !errors.As(err, &ce) || ce.Field != tt.wantField {
					t.Fatalf("error = %v, want CredentialError naming %s", err, tt.wantField)
				}
				if !strings.Contains(err.Error(), tt.wantField) || ce.ErrorName() != "InvalidCredential" {
					t.Errorf("error %q does not name %s", err, tt.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCredentialNeverPrintsSecret(t *testing.T) {
	c := Credential{BaseURL: DefaultBaseURL, ClientID: "id", ClientSecret: testSecret}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%+v", c.key())} {
		if strings.Contains(s, testSecret) {
			t.Errorf("secret in %q", s)
		}
	}
	other := c
	other.ClientSecret = "another"
	if c.key() == other.key() {
		t.Error("credentials with different secrets share a cache key")
	}
}
