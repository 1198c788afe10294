package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/fitbitplus/connector/lib/sandbox"
)

// cmdSandbox serves the Fitbit Plus API simulator until ctx is cancelled.
func cmdSandbox(ctx context.Context, c *cli, args []string) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (port 0 picks a free port)")
	seed := fs.Int64("seed", 0, "seed of the generated organisation, ids, tokens and injected faults")
	patients := fs.Int("patients", sandbox.DefaultPatients,
		fmt.Sprintf("patients of the generated organisation (%d to %d); those past the first %d have three metrics each",
			sandbox.DefaultPatients, sandbox.MaxPatients, sandbox.DefaultPatients))
	clientID := fs.String("client-id", sandbox.DefaultClientID, "client id the token exchange accepts")
	clientSecret := fs.String("client-secret", sandbox.DefaultClientSecret, "client secret the token exchange accepts")
	lifetime := fs.Duration("token-lifetime", time.Hour, "access token lifetime")
	noValidate := fs.Bool("no-validate", false, "do not validate requests against swagger.json")
	var f sandbox.Faults
	fs.DurationVar(&f.Latency, "latency", 0, "latency added to every request")
	fs.Float64Var(&f.FailRate, "fail-rate", 0, "fraction of requests answered 503 (0..1)")
	fs.IntVar(&f.FailStatus, "fail-status", 503, "status of injected failures (5xx)")
	fs.Float64Var(&f.RateLimitRate, "rate-limit-rate", 0, "fraction of requests answered 429 (0..1)")
	fs.IntVar(&f.RateLimitEvery, "rate-limit-every", 0, "answer every Nth request with 429 (0: never)")
	fs.DurationVar(&f.RetryAfter, "retry-after", time.Second, "Retry-After of 429 answers")
	fs.IntVar(&f.TokenFailures, "token-failures", 0, "answer the first N token exchanges with 503")
	fs.DurationVar(&f.TokenDownFor, "token-down-for", 0, "answer token exchanges with 503 for this long after start")
	debug := fs.Bool("debug", false, "log one line per request to stderr")
	objects := fs.Bool("object-storage", false, "also serve a stand-in of the platform's object storage (lightweight messages) under /objects")
	objectToken := fs.String("object-storage-token", sandbox.DefaultObjectToken, "bearer token the object storage accepts")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	if *clientID == "" || *clientSecret == "" {
		return &exitError{code: 2, err: errors.New("--client-id and --client-secret must not be empty")}
	}
	opts := sandbox.Options{
		Seed:          *seed,
		Patients:      *patients,
		Clients:       map[string]string{*clientID: *clientSecret},
		TokenLifetime: *lifetime,
		NoValidation:  *noValidate,
		Faults:        f,
	}
	if *objects {
		opts.Objects = sandbox.NewObjectStore(*objectToken, nil)
	}
	if *debug {
		opts.Logger = slog.New(slog.NewJSONHandler(c.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sb, err := sandbox.New(opts)
	if err != nil {
		return err
	}
	base, err := sb.Start(*addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "sandbox listening: base_url=%s client_id=%s client_secret=%s\n", base, *clientID, *clientSecret)
	if *objects {
		fmt.Fprintf(c.Stdout, "object storage: ELASTICIO_OBJECT_STORAGE_URI=%s ELASTICIO_OBJECT_STORAGE_TOKEN=%s\n",
			strings.TrimSuffix(base, sandbox.BasePath), *objectToken)
	}
	<-ctx.Done()
	return sb.Close()
}
