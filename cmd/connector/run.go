package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

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
	log := sailor.NewLogger(c.Stdout, s.LogOptions(hostname))
	if err != nil {
		log.Log(ctx, sailor.LevelFatal, "invalid environment", "err", err)
		return &exitError{code: 1, err: err}
	}
	if n := workerProcs(s.Prefetch, c.Getenv("GOMAXPROCS")); n > 0 {
		runtime.GOMAXPROCS(n)
	}
	percent, limit := gcSettings(c.Getenv, os.ReadFile)
	if percent > 0 {
		debug.SetGCPercent(percent)
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	api, err := newAPIProvider(c)
	if err != nil {
		log.Log(ctx, sailor.LevelFatal, "invalid environment", "err", err)
		return &exitError{code: 1, err: err}
	}
	err = sailor.Run(ctx, s, sailor.Deps{
		Functions: functions(),
		API:       api,
		Logger:    log,
		Hostname:  hostname,
	})
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}

// workerProcs is the GOMAXPROCS the worker sets for itself, 0 to keep the
// runtime's default. A worker with few messages in flight is I/O-bound: its
// CPU per message is mostly the hand-offs between its goroutines (AMQP
// readers, HTTP connection loops, handlers), and a second P turns those into
// cross-thread wake-ups. Measured on two cores (prefill drain, medians of 5,
// A/B in alternation): one P takes 30% less CPU per message at prefetch 1 and
// 15-20% less at prefetch 4 and 10 for the same throughput; from prefetch 16
// on, bursts of completions use the second core and one P loses throughput
// (6-16% at prefetch 32 and 64). An explicit GOMAXPROCS always wins.
func workerProcs(prefetch int, gomaxprocs string) int {
	if prefetch <= maxSingleProcPrefetch && gomaxprocs == "" {
		return 1
	}
	return 0
}

// maxSingleProcPrefetch is the highest prefetch that runs on one P.
const maxSingleProcPrefetch = 10
