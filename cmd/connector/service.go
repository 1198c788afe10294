package main

import (
	"context"
	"errors"
	"os"

	connector "github.com/fitbitplus/connector"
	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/sailor"
)

// cmdService is `connector service verifyCredentials|getMetaModel|selectModel`:
// one platform service call whose result is posted to
// ELASTICIO_POST_RESULT_URL. It exits 0 only when the platform accepted the
// result (HTTP 200).
func cmdService(ctx context.Context, c *cli, args []string) error {
	if len(args) != 1 {
		return &exitError{code: 2, err: errors.New("usage: connector service verifyCredentials|getMetaModel|selectModel")}
	}
	hostname, _ := os.Hostname()
	s := sailor.LoadServiceSettings(c.Getenv)
	c.Secrets.AddConfig(map[string]any(s.Cfg))
	log := sailor.NewLogger(c.Stdout, s.LogOptions(hostname)) // c.Stdout is redacted
	err := sailor.RunService(ctx, args[0], c.Getenv, sailor.ServiceDeps{
		VerifyCredentials: func(ctx context.Context, cfg component.Config) (string, error) {
			return verifyCredential(ctx, c, cfg)
		},
		ComponentJSON: connector.ComponentJSON,
		Logger:        log,
		Secrets:       c.Secrets,
	})
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}
