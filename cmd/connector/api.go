package main

import (
	"context"
	"errors"

	"github.com/fitbitplus/connector/lib/component"
)

// newAPIProvider builds the process-wide Fitbit Plus client cache from the
// environment's default client credentials. Owned by the lead; wired to
// lib/fitbitplus once it lands.
func newAPIProvider(c *cli) component.APIProvider { return nil }

// verifyCredential obtains a token for cfg and returns the organisation it reaches.
func verifyCredential(ctx context.Context, c *cli, cfg component.Config) (string, error) {
	return "", errors.New("not built yet")
}

// functions is every action and trigger the component offers, by name.
func functions() map[string]component.Function { return map[string]component.Function{} }
