// Command testworker is the worker of lib/sailor's integration tests as a
// separate process (real exit codes and signals): `connector run` with the
// test component's functions instead of the connector's.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fitbitplus/connector/lib/sailor"
	"github.com/fitbitplus/connector/lib/sailor/internal/testfuncs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Until now SIGTERM would kill the process outright: tests that signal
	// it during startup wait for this line (integration_process_test.go).
	fmt.Fprintln(os.Stderr, "testworker: signals handled")
	os.Exit(run(ctx))
}

func run(ctx context.Context) int {
	s, err := sailor.LoadSettings(os.Getenv)
	log := sailor.NewLogger(os.Stdout, s.LogOptions(os.Getenv("TESTWORKER_HOSTNAME")))
	if err != nil {
		log.Log(ctx, sailor.LevelFatal, "invalid environment", "err", err)
		return 1
	}
	err = sailor.Run(ctx, s, sailor.Deps{
		Functions: testfuncs.Functions(),
		Logger:    log,
		Hostname:  os.Getenv("TESTWORKER_HOSTNAME"),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testworker:", err)
		return 1
	}
	return 0
}
