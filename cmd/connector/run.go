package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/KimMachineGun/automemlimit/memlimit"

	connector "github.com/fitbitplus/connector"
	"github.com/fitbitplus/connector/lib/sailor"
)

// cmdRun is the worker: `connector run`, configured by the ELASTICIO_*
// environment. It exits 0 after a graceful shutdown (SIGTERM/SIGINT cancel
// ctx) and 1 when the environment is invalid, the worker cannot start, or it
// cannot keep consuming.
func cmdRun(ctx context.Context, c *cli, args []string) error {
	if len(args) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected arguments %q", args)}
	}
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "connector"
	}
	s, err := sailor.LoadSettings(c.Getenv)
	log := sailor.NewLogger(c.Stdout, s.LogOptions(hostname)) // c.Stdout is redacted
	if err != nil {
		log.Log(ctx, sailor.LevelFatal, "invalid environment", "err", err)
		return &exitError{code: 1, err: err}
	}
	// A soft memory limit of 90% of the container's, so that the collector
	// works harder near it instead of the OOM killer ending the worker; an
	// operator's GOMEMLIMIT (or AUTOMEMLIMIT=off) wins.
	_, _ = memlimit.Set(memlimit.WithLogger(log)) // a failure is logged and changes nothing
	api, err := newAPIProvider(c)
	if err != nil {
		log.Log(ctx, sailor.LevelFatal, "invalid environment", "err", err)
		return &exitError{code: 1, err: err}
	}
	err = sailor.Run(ctx, s, sailor.Deps{
		Functions:            functions(),
		API:                  api,
		Logger:               log,
		Secrets:              c.Secrets,
		KeepObjectReferences: !autoResolvesObjects(connector.ComponentJSON, s.Function),
		Hostname:             hostname,
	})
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}

// autoResolvesObjects reads a function's autoResolveObjectReferences in
// component.json: true unless it is false, as the official sailor reads it.
func autoResolvesObjects(componentJSON []byte, function string) bool {
	var c struct {
		Actions, Triggers map[string]struct {
			AutoResolve *bool `json:"autoResolveObjectReferences"`
		}
	}
	if json.Unmarshal(componentJSON, &c) != nil {
		return true
	}
	for _, fns := range []map[string]struct {
		AutoResolve *bool `json:"autoResolveObjectReferences"`
	}{c.Triggers, c.Actions} {
		if f, ok := fns[function]; ok && f.AutoResolve != nil {
			return *f.AutoResolve
		}
	}
	return true
}
