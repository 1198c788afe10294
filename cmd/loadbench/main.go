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
// to drained, no latency percentiles (the table shows "–"). --cluster runs
// every setting on the three-node cluster of `scripts/rabbitmq.sh cluster`,
// the workers spread over its nodes, right after the same run on the one
// node, every queue a quorum queue in both, and reports their ratios. The
// sandbox runs in this process; its CPU, with the collector's, is the
// "harness CPU" column.
//
//	go run ./cmd/loadbench --n 5000 --prefetch 1,10 --workers 1 --repeats 3
//	go run ./cmd/loadbench --prefill --n 5000 --prefetch 1,10,64 --repeats 3
//	go run ./cmd/loadbench --cluster --workers 1,2,4 --prefetch 10,64 --api-latency 0,50ms
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
	n, repeats, window, pad   int
	quorum, brokerOnly        bool
	relayProcess              bool
	withRelay                 bool
	lightweight               bool
	cluster                   bool
	prefill                   bool
	noValidate                bool
	latency, tokenLife        time.Duration
	latencies                 []time.Duration // of --api-latency; latency is one of them
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
	fs.IntVar(&o.pad, "pad", 0, "bytes of padding added to every input (inputs of a given size)")
	fs.StringVar(&o.prefetch, "prefetch", "1", "prefetch values, comma-separated (one run set each)")
	fs.StringVar(&o.workers, "workers", "1", "worker counts, comma-separated (one run set each)")
	fs.BoolVar(&o.quorum, "quorum", false, "make the input queue a quorum queue")
	fs.BoolVar(&o.brokerOnly, "broker-only", false, "measure the broker alone: a relay that republishes with confirm and acks, no worker")
	fs.BoolVar(&o.relayProcess, "relay-process", false, "with --broker-only: run the relay as its own process (its CPU and RSS measured like a worker's)")
	fs.BoolVar(&o.lightweight, "lightweight", false, "inputs and outputs through object storage (a stand-in beside the sandbox)")
	fs.BoolVar(&o.withRelay, "with-relay", false, "run the relay process before the worker in every repeat and report their ratios")
	fs.BoolVar(&o.cluster, "cluster", false, "run every setting on the three-node cluster of scripts/rabbitmq.sh cluster "+
		"(started unless it runs, stopped after if started), workers spread over its nodes, right after the same run on the "+
		"one broker; every queue a quorum queue in both; report their ratios")
	fs.BoolVar(&o.prefill, "prefill", false, "publish all inputs before launching the worker and measure the drain (no latency figures)")
	fs.DurationVar(&o.idle, "idle", 0, "instead of a load, measure the workers (or relay processes) consuming an empty queue for this long: context switches and CPU")
	fs.BoolVar(&o.noValidate, "no-validate", false, "the sandbox skips validating requests against swagger.json (frees harness CPU)")
	fs.Func("api-latency", "latencies the sandbox adds to every API request, comma-separated (one run set each; default 0)", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(f))
			if err != nil || d < 0 {
				return fmt.Errorf("%q is not a list of durations", v)
			}
			o.latencies = append(o.latencies, d)
		}
		return nil
	})
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
	if o.cluster && (o.withRelay || o.brokerOnly) {
		return o, nil, nil, fmt.Errorf("--cluster runs the worker; it does not go with --with-relay or --broker-only")
	}
	if len(o.latencies) == 0 {
		o.latencies = []time.Duration{0}
	}
	o.latency = o.latencies[0]
	return o, prefetches, workers, nil
}

// config is the benchmark of one setting.
func (o options) config(url string, prefetch, workers int) loadtest.BenchConfig {
	return loadtest.BenchConfig{AMQPURL: url, Binary: o.binary, Action: o.action, N: o.n, Prefetch: prefetch,
		Workers: workers, Quorum: o.quorum, Window: o.window, APILatency: o.latency, FailRate: o.failRate,
		RateLimitEvery: o.rateLimitEvery, TokenLifetime: o.tokenLife, LogLevel: o.logLevel,
		Timeout: o.timeout, BrokerOnly: o.brokerOnly, Prefill: o.prefill, NoValidation: o.noValidate, Extra: o.workerEnv,
		Idle: o.idle, Pad: o.pad, Lightweight: o.lightweight,
		RelayBinary: o.relayBinary(), Replicas: o.replicas()}
}

// replicas: with --cluster every queue is a quorum queue on each of the
// three nodes (on the one broker, a quorum queue of one).
func (o options) replicas() int {
	if o.cluster {
		return 3
	}
	return 0
}

// relayBinary is this executable when the relay runs as a process.
func (o options) relayBinary() string {
	if !o.brokerOnly || !o.relayProcess {
		return ""
	}
	return selfBinary()
}

// selfBinary is this executable (it runs `loadbench relay`).
func selfBinary() string {
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
	var nodes []string
	if o.cluster {
		c, started, err := loadtest.StartCluster()
		if err != nil {
			fmt.Fprintf(stderr, "loadbench: %v\n", err)
			return 1
		}
		if started {
			defer func() {
				if err := c.Stop(); err != nil {
					fmt.Fprintf(stderr, "loadbench: %v\n", err)
				}
			}()
		}
		nodes = c.URLs
	}

	type setting struct {
		Median loadtest.BenchResult   `json:"median"`
		Runs   []loadtest.BenchResult `json:"runs"`
	}
	var all []setting
	var medians []loadtest.BenchResult
	var ratios, clusterRatios []ratio
	failed := false
	for _, w := range workers {
		for _, p := range prefetches {
			for _, lat := range o.latencies {
				o := o
				o.latency = lat
				// With --with-relay each repeat runs the relay process, then the
				// worker, so that their ratio is taken in one run; with --cluster
				// the one broker, then the cluster.
				configs := []loadtest.BenchConfig{o.config(url, p, w)}
				if o.withRelay {
					rc := o.config(url, p, w)
					rc.BrokerOnly, rc.RelayBinary = true, selfBinary()
					configs = append([]loadtest.BenchConfig{rc}, configs...)
				}
				if o.cluster {
					cc := o.config("", p, w)
					cc.NodeURLs = nodes
					configs = append(configs, cc)
				}
				runs, pairs, bad := repeatRuns(ctx, configs, o.repeats, stderr)
				failed = failed || bad
				for _, rs := range runs {
					if len(rs) == 0 {
						continue
					}
					m := loadtest.Median(rs)
					medians = append(medians, m)
					all = append(all, setting{Median: m, Runs: rs})
				}
				switch {
				case len(pairs) > 0 && o.cluster:
					clusterRatios = append(clusterRatios, pairRatio(pairs))
				case len(pairs) > 0:
					ratios = append(ratios, pairRatio(pairs))
				}
			}
		}
	}
	if err := loadtest.WriteTable(stdout, medians); err != nil {
		fmt.Fprintf(stderr, "loadbench: %v\n", err)
		return 1
	}
	writeRatios(stdout, ratios)
	writeClusterRatios(stdout, clusterRatios)
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

// repeatRuns runs configs one after the other, repeats times, and returns
// each config's runs and, of two configs, the pairs taken in one repeat.
func repeatRuns(ctx context.Context, configs []loadtest.BenchConfig, repeats int, stderr io.Writer) (
	runs [][]loadtest.BenchResult, pairs [][2]loadtest.BenchResult, failed bool) {
	runs = make([][]loadtest.BenchResult, len(configs))
	for i := 0; i < repeats && ctx.Err() == nil; i++ {
		var got []loadtest.BenchResult
		for k, cfg := range configs {
			r, err := loadtest.Bench(ctx, cfg)
			if err != nil {
				fmt.Fprintf(stderr, "loadbench: run %s prefetch=%d workers=%d #%d: %v\n", cfg.Action, cfg.Prefetch, cfg.Workers, i+1, err)
				failed = true
				continue
			}
			logRun(stderr, r, i+1)
			runs[k] = append(runs[k], r)
			got = append(got, r)
		}
		if len(configs) == 2 && len(got) == 2 {
			pairs = append(pairs, [2]loadtest.BenchResult{got[0], got[1]})
		}
	}
	return runs, pairs, failed
}

func logRun(w io.Writer, r loadtest.BenchResult, i int) {
	if r.Load == "idle" {
		fmt.Fprintf(w, "run idle %s prefetch=%d workers=%d #%d: %d context switches, %.0f ms CPU in %.1f s\n",
			r.Action, r.Prefetch, r.Workers, i, r.IdleContextSwitches, r.IdleCPUMs, r.IdleSeconds)
		return
	}
	fmt.Fprintf(w, "run %s %s prefetch=%d workers=%d nodes=%d latency=%.0fms #%d: %.0f msg/s ok=%d lost=%d dup=%d p50=%.1fms rss=%.1fMB cpu=%.3fms/msg harness=%.3fms/msg first=%.0fms\n",
		r.Load, r.Action, r.Prefetch, r.Workers, r.Nodes, r.APILatencyMs, i, r.MsgsPerSec, r.OK, r.Lost, r.Duplicates, r.P50Ms, r.PeakRSSMB, r.CPUMsPerMsg, r.HarnessCPUMs, r.FirstOutputMs)
}

// ratio is the worker against the relay process of one setting: the
// medians of the ratios of runs taken one after the other.
type ratio struct {
	setting                     loadtest.BenchResult
	pairs                       int
	rate, cpu, p50, p99, idleCS float64
}

func pairRatio(pairs [][2]loadtest.BenchResult) ratio {
	med := func(f func(relay, worker loadtest.BenchResult) float64) float64 {
		xs := make([]float64, 0, len(pairs))
		for _, p := range pairs {
			xs = append(xs, f(p[0], p[1]))
		}
		return loadtest.Percentile(xs, 50)
	}
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	return ratio{setting: pairs[0][1], pairs: len(pairs),
		rate: med(func(r, w loadtest.BenchResult) float64 { return div(w.MsgsPerSec, r.MsgsPerSec) }),
		cpu:  med(func(r, w loadtest.BenchResult) float64 { return div(w.CPUMsPerMsg, r.CPUMsPerMsg) }),
		p50:  med(func(r, w loadtest.BenchResult) float64 { return div(w.P50Ms, r.P50Ms) }),
		p99:  med(func(r, w loadtest.BenchResult) float64 { return div(w.P99Ms, r.P99Ms) }),
		idleCS: med(func(r, w loadtest.BenchResult) float64 {
			return div(float64(w.IdleContextSwitches), float64(r.IdleContextSwitches))
		}),
	}
}

func writeRatios(w io.Writer, rs []ratio) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintln(w, "\n| worker / relay process | pairs | msg/s | CPU ms/msg | p50 | idle context switches |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|")
	for _, r := range rs {
		s := r.setting
		fmt.Fprintf(w, "| %s %s, prefetch %d, %d worker(s), API latency %.0f ms | %d | %.2f | %.2f | %.2f | %.2f |\n",
			s.Action, s.Load, s.Prefetch, s.Workers, s.APILatencyMs, r.pairs, r.rate, r.cpu, r.p50, r.idleCS)
	}
}

// writeClusterRatios writes the cluster against the one broker, per setting.
func writeClusterRatios(w io.Writer, rs []ratio) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintln(w, "\n| cluster / one node | pairs | msg/s | p50 | p99 | CPU ms/msg |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|")
	for _, r := range rs {
		s := r.setting
		fmt.Fprintf(w, "| %s %s, prefetch %d, %d worker(s), API latency %.0f ms | %d | %.2f | %.2f | %.2f | %.2f |\n",
			s.Action, s.Load, s.Prefetch, s.Workers, s.APILatencyMs, r.pairs, r.rate, r.p50, r.p99, r.cpu)
	}
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
