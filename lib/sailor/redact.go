package sailor

import (
	"strings"
	"sync"
)

// redactor removes known secret values (crypto password, platform API key,
// secret-looking credential fields of the step config) from text that goes to
// logs or error events.
type redactor struct {
	mu      sync.RWMutex
	secrets []string
}

const redacted = "[REDACTED]"

// minSecretLen keeps short values (which would redact ordinary words) out.
const minSecretLen = 6

func newRedactor(secrets ...string) *redactor {
	r := &redactor{}
	r.add(secrets...)
	return r
}

func (r *redactor) add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= minSecretLen && !contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (r *redactor) redact(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, secret := range r.secrets {
		if strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, redacted)
		}
	}
	return s
}

// contains tells whether s holds a known secret.
func (r *redactor) contains(s string) bool {
	if r == nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, secret := range r.secrets {
		if strings.Contains(s, secret) {
			return true
		}
	}
	return false
}

// secretKey tells whether a config key names a secret.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"secret", "token", "password", "apikey", "api_key", "key", "auth", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// addConfigSecrets registers the string values of secret-looking keys of a
// step config, at any depth.
func (r *redactor) addConfigSecrets(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if s, ok := val.(string); ok {
				if secretKey(k) {
					r.add(s)
				}
				continue
			}
			r.addConfigSecrets(val)
		}
	case []any:
		for _, val := range t {
			r.addConfigSecrets(val)
		}
	}
}
