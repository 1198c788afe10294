package main

import (
	"context"
	"fmt"
	"time"

	"github.com/fitbitplus/connector/actions"
	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fhir"
	"github.com/fitbitplus/connector/lib/fitbitplus"
	"github.com/fitbitplus/connector/triggers"
)

// RequestTimeoutEnv bounds one attempt of an API request (connect, send,
// read the answer); retries and token exchanges have their own bounds.
const RequestTimeoutEnv = "FITBITPLUS_REQUEST_TIMEOUT"

// newAPIProvider builds the process-wide Fitbit Plus client cache. The
// environment's OAUTH_CLIENT_ID / OAUTH_CLIENT_SECRET are the default client
// credentials; a credential's own clientId / clientSecret override them.
func newAPIProvider(c *cli) (*fitbitplus.Clients, error) {
	opts := []fitbitplus.Option{fitbitplus.WithSecrets(c.Secrets)}
	if v := c.Getenv(RequestTimeoutEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s must be a positive duration such as 30s, got %q", RequestTimeoutEnv, v)
		}
		opts = append(opts, fitbitplus.WithAttemptTimeout(d))
	}
	return fitbitplus.NewClients(fitbitplus.Defaults{
		ClientID:     c.Getenv("OAUTH_CLIENT_ID"),
		ClientSecret: c.Getenv("OAUTH_CLIENT_SECRET"),
	}, nil, opts...), nil
}

// verifyCredential obtains a token for cfg and returns the name of the
// organisation the token reaches.
func verifyCredential(ctx context.Context, c *cli, cfg component.Config) (string, error) {
	clients, err := newAPIProvider(c)
	if err != nil {
		return "", err
	}
	return clients.VerifyCredentials(ctx, cfg)
}

// functions is every action and trigger the component offers, by name: the
// generated actions, the hand-written triggers and actions. A name defined
// twice is a programming error caught by the tests.
func functions() map[string]component.Function {
	handWritten := map[string]component.Function{
		"toFhirObservation":   fhir.ToFhirObservationAction,
		"fromFhirObservation": fhir.FromFhirObservationAction,
		"toFhirPatient":       fhir.ToFhirPatientAction,
		"fromFhirPatient":     fhir.FromFhirPatientAction,
	}
	all := make(map[string]component.Function, len(actions.Registry)+len(triggers.Registry)+len(handWritten))
	for _, reg := range []map[string]component.Function{actions.Registry, triggers.Registry, handWritten} {
		for name, fn := range reg {
			all[name] = fn
		}
	}
	return all
}
