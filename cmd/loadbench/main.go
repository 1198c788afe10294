// Command loadbench measures the worker under load: it starts (or reuses) a
// RabbitMQ on 127.0.0.1 and the Fitbit Plus sandbox, declares a throwaway
// platform-like topology, launches `connector run` as separate processes,
// streams N encrypted inputs through them and reports, as a markdown table
// and optionally JSON, what came out: ok, errors, lost, duplicates,
// dead-lettered, messages/s, latency percentiles, peak RSS, CPU per message
// and the time from launch to the first output. --broker-only replaces the
// worker by an in-process relay to measure the broker's ceiling;
// --relay-process runs that relay as its own process (`loadbench relay`), so
// that its CPU and RSS are measured as a worker's: what any Go process costs
// for the same AMQP work, with nothing else to do. --prefill
// publishes all N inputs before launching the worker (or relay) and measures
// the drain: msg/s from the first output to the last, worker CPU from launch
// to drained, no latency percentiles (the table shows "–"). The sandbox runs
// in this process; its CPU, with the collector's, is the "harness CPU" column.
//
//	go run ./cmd/loadbench --n 5000 --prefetch 1,10 --workers 1 --repeats 3
//	go run ./cmd/loadbench --prefill --n 5000 --prefetch 1,10,64 --repeats 3
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fitbitplus/connector/lib/loadtest"
)

func main() {
	relay := len(os.Args) > 1 && os.Args[1] == "relay"
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if relay {
		if err := loadtest.RunRelay(ctx, os.Getenv, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "loadbench relay: %v\n", err)
			code = 1
		}
	} else {
		code = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}

type options struct {
	action, prefetch, workers string
	n, repeats, window        int
	quorum, brokerOnly        bool
	relayProcess              bool
	prefill                   bool
	noValidate                bool
	latency, tokenLife        time.Duration
	idle                      time.Duration
	failRate                  float64
	rateLimitEvery            int
	jsonFile, amqpURL, binary string
	logLevel                  string
	timeout                   time.Duration
	workerEnv                 map[string]string
}

// parseOptions reads the command line; the error is for stderr, and the
// options are only valid without one.
func parseOptions(args []string, stderr io.Writer) (options, []int, []int, error) {
	var o options
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.action, "action", loadtest.ActionFetchPatient, "action: fetchPatient, createPatientHealthMetric or toFhirObservation (no API call)")
	fs.IntVar(&o.n, "n", 2000, "inputs per run")
	fs.StringVar(&o.prefetch, "prefetch", "1", "prefetch values, comma-separated (one run set each)")
	fs.StringVar(&o.workers, "workers", "1", "worker counts, comma-separated (one run set each)")
	fs.BoolVar(&o.quorum, "quorum", false, "make the input queue a quorum queue")
	fs.BoolVar(&o.brokerOnly, "broker-only", false, "measure the broker alone: a relay that republishes with confirm and acks, no worker")
	fs.BoolVar(&o.relayProcess, "relay-process", false, "with --broker-only: run the relay as its own process (its CPU and RSS measured like a worker's)")
	fs.BoolVar(&o.prefill, "prefill", false, "publish all inputs before launching the worker and measure the drain (no latency figures)")
	fs.DurationVar(&o.idle, "idle", 0, "instead of a load, measure the workers (or relay processes) consuming an empty queue for this long: context switches and CPU")
	fs.BoolVar(&o.noValidate, "no-validate", false, "the sandbox skips validating requests against swagger.json (frees harness CPU)")
	fs.DurationVar(&o.latency, "api-latency", 0, "latency the sandbox adds to every API request")
	fs.Float64Var(&o.failRate, "fail-rate", 0, "fraction of API requests the sandbox answers 503")
	fs.IntVar(&o.rateLimitEvery, "rate-limit-every", 0, "the sandbox answers every Nth request 429 (0: never)")
	fs.DurationVar(&o.tokenLife, "token-lifetime", time.Hour, "access token lifetime")
	fs.IntVar(&o.repeats, "repeats", 3, "runs per setting; the table shows medians")
	fs.IntVar(&o.window, "window", 0, "inputs outstanding at once (0: 2·prefetch·workers + 2; ignored with --prefill)")
	fs.StringVar(&o.jsonFile, "json", "", "also write every run and the medians as JSON to FILE")
	fs.StringVar(&o.amqpURL, "amqp", "", "broker URL (default: start or reuse one on 127.0.0.1:5672 with scripts/rabbitmq.sh)")
	fs.StringVar(&o.binary, "binary", "", "connector binary (default: go build ./cmd/connector)")
	fs.StringVar(&o.logLevel, "log-level", "", "worker LOG_LEVEL (default: the worker's default, info)")
	fs.DurationVar(&o.timeout, "timeout", 0, "bound of each run (default: 2 min + 5 ms per input)")
	fs.Func("worker-env", "K=V added to the worker's environment (repeatable), e.g. GOGC=200", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not K=V", kv)
		}
		if o.workerEnv == nil {
			o.workerEnv = map[string]string{}
		}
		o.workerEnv[k] = v
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, nil, nil, err
	}
	prefetches, err1 := ints(o.prefetch)
	workers, err2 := ints(o.workers)
	if err := errors.Join(err1, err2); err != nil {
		return o, nil, nil, err
	}
	if o.n <= 0 || o.repeats <= 0 || fs.NArg() > 0 {
		return o, nil, nil, fmt.Errorf("--n and --repeats must be positive and no arguments may follow the flags")
	}
	return o, prefetches, workers, nil
}

// config is the benchmark of one setting.
func (o options) config(url string, prefetch, workers int) loadtest.BenchConfig {
	return loadtest.BenchConfig{AMQPURL: url, Binary: o.binary, Action: o.action, N: o.n, Prefetch: prefetch,
		Workers: workers, Quorum: o.quorum, Window: o.window, APILatency: o.latency, FailRate: o.failRate,
		RateLimitEvery: o.rateLimitEvery, TokenLifetime: o.tokenLife, LogLevel: o.logLevel,
		Timeout: o.timeout, BrokerOnly: o.brokerOnly, Prefill: o.prefill, NoValidation: o.noValidate, Extra: o.workerEnv,
		Idle:        o.idle,
		RelayBinary: o.relayBinary()}
}

// relayBinary is this executable when the relay runs as a process.
func (o options) relayBinary() string {
	if !o.brokerOnly || !o.relayProcess {
		return ""
	}
	self, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return self
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, prefetches, workers, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadbench: invalid arguments: %v\n", err)
		return 2
	}
	url := o.amqpURL
	if url == "" {
		var stopBroker func()
		var err error
		if url, stopBroker, err = ensureBroker(stderr); err != nil {
			fmt.Fprintf(stderr, "loadbench: %v\n", err)
			return 1
		}
		defer stopBroker()
	}

	type setting struct {
		Median loadtest.BenchResult   `json:"median"`
		Runs   []loadtest.BenchResult `json:"runs"`
	}
	var all []setting
	var medians []loadtest.BenchResult
	failed := false
	for _, w := range workers {
		for _, p := range prefetches {
			var runs []loadtest.BenchResult
			for i := 0; i < o.repeats && ctx.Err() == nil; i++ {
				r, err := loadtest.Bench(ctx, o.config(url, p, w))
				if err != nil {
					fmt.Fprintf(stderr, "loadbench: run prefetch=%d workers=%d #%d: %v\n", p, w, i+1, err)
					failed = true
					continue
				}
				if r.Load == "idle" {
					fmt.Fprintf(stderr, "run idle prefetch=%d workers=%d #%d: %d context switches, %.0f ms CPU in %.1f s\n",
						p, w, i+1, r.IdleContextSwitches, r.IdleCPUMs, r.IdleSeconds)
					runs = append(runs, r)
					continue
				}
				fmt.Fprintf(stderr, "run %s prefetch=%d workers=%d #%d: %.0f msg/s ok=%d lost=%d dup=%d p50=%.1fms rss=%.1fMB cpu=%.3fms/msg harness=%.3fms/msg first=%.0fms\n",
					r.Load, p, w, i+1, r.MsgsPerSec, r.OK, r.Lost, r.Duplicates, r.P50Ms, r.PeakRSSMB, r.CPUMsPerMsg, r.HarnessCPUMs, r.FirstOutputMs)
				runs = append(runs, r)
			}
			if len(runs) == 0 {
				continue
			}
			m := loadtest.Median(runs)
			medians = append(medians, m)
			all = append(all, setting{Median: m, Runs: runs})
		}
	}
	if err := loadtest.WriteTable(stdout, medians); err != nil {
		fmt.Fprintf(stderr, "loadbench: %v\n", err)
		return 1
	}
	if o.jsonFile != "" {
		b, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(o.jsonFile, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "loadbench: %v\n", err)
			return 1
		}
	}
	for _, m := range medians {
		if m.Lost > 0 || m.Duplicates > 0 {
			failed = true
		}
	}
	if failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a list of positive numbers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// ensureBroker starts or reuses the broker on 127.0.0.1:5672 through
// scripts/rabbitmq.sh and returns how to stop what it started.
func ensureBroker(stderr io.Writer) (string, func(), error) {
	root, err := loadtest.RepoRoot()
	if err != nil {
		return "", nil, err
	}
	script := filepath.Join(root, "scripts", "rabbitmq.sh")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "start")
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return "", nil, fmt.Errorf("start broker: %w", err)
	}
	stop := func() {}
	if strings.TrimSpace(string(out)) == "started" {
		stop = func() {
			c, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = exec.CommandContext(c, script, "stop").Run()
		}
	}
	return loadtest.DefaultAMQPURL, stop, nil
}
