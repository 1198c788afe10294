// Command connector is the Fitbit Plus connector for elastic.io-compatible
// platforms: the worker, the platform's service calls, the generator, the
// local runner, the API sandbox and the demo, as subcommands of one binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/fitbitplus/connector/lib/secrets"
)

// cli is what every subcommand gets instead of reaching for globals.
type cli struct {
	Getenv  func(string) string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Secrets *secrets.Redactor // every secret the process knows; run sets it and redacts Stdout and Stderr with it
}

// exitError carries a specific exit status out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
}

func commands() []command {
	return []command{
		{"run", "run the worker (configured by the ELASTICIO_* environment)", cmdRun},
		{"service", "run a platform service call: verifyCredentials | getMetaModel | selectModel", cmdService},
		{"generate", "generate component.json and actions/ from swagger.json [--spec FILE] [--out DIR] [--check] [--strict] [--allow-breaking]", cmdGenerate},
		{"exec", "run input messages (JSON on stdin) through an action or trigger, printing every event", cmdExec},
		{"sandbox", "serve a local simulator of the Fitbit Plus API [--addr 127.0.0.1:PORT]", cmdSandbox},
		{"demo", "run a short flow against the in-process sandbox", cmdDemo},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &cli{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and maps its error to an exit status. What
// it and the subcommand write goes through one redactor, which starts with
// the environment's secrets; the subcommands add those they learn.
func run(ctx context.Context, args []string, c *cli) int {
	c.Secrets = secrets.New(c.Getenv("OAUTH_CLIENT_SECRET"), c.Getenv("ELASTICIO_API_KEY"),
		c.Getenv("ELASTICIO_MESSAGE_CRYPTO_PASSWORD"))
	c.Stdout, c.Stderr = c.Secrets.Writer(c.Stdout), c.Secrets.Writer(c.Stderr)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(c.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, cmd := range commands() {
		if cmd.name != args[0] {
			continue
		}
		err := runCommand(ctx, cmd, c, args[1:])
		if err == nil {
			return 0
		}
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintf(c.Stderr, "connector %s: %v\n", cmd.name, ee.err)
			}
			return ee.code
		}
		fmt.Fprintf(c.Stderr, "connector %s: %v\n", cmd.name, err)
		return 1
	}
	fmt.Fprintf(c.Stderr, "connector: unknown command %q\n", args[0])
	usage(c.Stderr)
	return 2
}

// runCommand runs one subcommand; a panic becomes an error (with its stack
// on stderr for the bug report) instead of a crash.
func runCommand(ctx context.Context, cmd command, c *cli, args []string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(c.Stderr, "connector %s: internal error: %v\n%s", cmd.name, p, debug.Stack())
			err = &exitError{code: 1}
		}
	}()
	return cmd.run(ctx, c, args)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: connector <command> [flags]")
	fmt.Fprintln(w)
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", cmd.name, cmd.summary)
	}
}
