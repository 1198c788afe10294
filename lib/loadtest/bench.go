package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fitbitplus/connector/lib/sailor"
	"github.com/fitbitplus/connector/lib/sandbox"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Actions the benchmark can drive, with the inputs it makes for them.
const (
	ActionFetchPatient = "fetchPatient"
	ActionCreateMetric = "createPatientHealthMetric"
	// ActionToFhir maps a metric to a FHIR Observation without calling the
	// API: the worker's cost without the HTTP round trip.
	ActionToFhir = "toFhirObservation"
)

// BenchConfig is one benchmark run.
type BenchConfig struct {
	AMQPURL string // the broker the topology is declared through and the harness uses
	// NodeURLs are a cluster's nodes: worker (or relay process) i connects
	// to NodeURLs[i mod len]; AMQPURL defaults to NodeURLs[0]. Empty: every
	// worker connects to AMQPURL.
	NodeURLs []string
	// Replicas > 0 makes every queue a quorum queue with this many members
	// (TopologyOptions.Replicas).
	Replicas        int
	Binary          string // the connector binary; "" builds it
	Action          string // ActionFetchPatient (default) or ActionCreateMetric
	N               int    // inputs in the measured stream (default 1000)
	Prefetch        int    // ELASTICIO_RABBITMQ_PREFETCH_SAILOR (default 1)
	Workers         int    // worker processes on the one input queue (default 1)
	Quorum          bool   // quorum input queue
	Window          int    // inputs outstanding at once (0: 2·prefetch·workers + 2)
	ProtocolVersion int    // of the inputs and outputs (default 1)
	APILatency      time.Duration
	FailRate        float64
	RateLimitEvery  int
	TokenLifetime   time.Duration
	LogLevel        string        // worker LOG_LEVEL (default info)
	Timeout         time.Duration // bound of the whole run (default 2 min + 5 ms per input)
	BrokerOnly      bool          // an in-process relay instead of the worker: the broker's ceiling
	// RelayBinary, with BrokerOnly, runs each relay as its own process
	// (`RelayBinary relay`, see RunRelay) instead of in this one, so that its
	// CPU and RSS are measured as a worker's are.
	RelayBinary string
	// Prefill publishes all N inputs (confirmed) before launching the worker
	// (or relay) and measures the drain: rate = settled / (last output −
	// first output); no per-message latency. Default: the windowed stream.
	Prefill      bool
	NoValidation bool // the sandbox skips validating requests against swagger.json (less harness CPU)
	// Idle measures, instead of a load, the workers consuming an empty queue
	// for this long: their context switches and CPU.
	Idle time.Duration
	// Pad adds a field of this many bytes to every input (the actions
	// ignore it): inputs of a given size, for the memory they take.
	Pad int
	// Lightweight sends every input's body through object storage (a
	// stand-in served beside the sandbox), and has the workers emit
	// lightweight messages: both directions of the platform's large-message
	// path on every message.
	Lightweight bool
	Extra       map[string]string
}

func (c *BenchConfig) defaults() {
	if c.AMQPURL == "" && len(c.NodeURLs) > 0 {
		c.AMQPURL = c.NodeURLs[0]
	}
	if c.AMQPURL == "" {
		c.AMQPURL = AMQPURL()
	}
	if c.Action == "" {
		c.Action = ActionFetchPatient
	}
	if c.N <= 0 {
		c.N = 1000
	}
	c.Prefetch = max(c.Prefetch, 1)
	c.Workers = max(c.Workers, 1)
	if c.Window <= 0 {
		c.Window = 2*c.Prefetch*c.Workers + 2
	}
	if c.ProtocolVersion != 2 {
		c.ProtocolVersion = 1
	}
	if c.Timeout <= 0 {
		c.Timeout = 2*time.Minute + time.Duration(c.N)*5*time.Millisecond
	}
}

// BenchResult is what one run measured. Times are in milliseconds.
type BenchResult struct {
	Mode          string  `json:"mode"` // "connector" or "broker"
	Action        string  `json:"action"`
	N             int     `json:"n"`
	Prefetch      int     `json:"prefetch"`
	Workers       int     `json:"workers"`
	Quorum        bool    `json:"quorum"`
	Replicas      int     `json:"replicas,omitempty"` // every queue a quorum queue with this many members
	Nodes         int     `json:"nodes"`              // broker nodes the workers connect to
	Load          string  `json:"load"`               // "window" (the stream) or "prefill" (the drain)
	Window        int     `json:"window,omitempty"`   // inputs outstanding at once, window load only
	APILatencyMs  float64 `json:"apiLatencyMs"`
	FailRate      float64 `json:"failRate"`
	Tally                 // ok, errors, lost, duplicates, deadLettered
	Seconds       float64 `json:"seconds"`
	MsgsPerSec    float64 `json:"msgsPerSec"`
	P50Ms         float64 `json:"latencyP50Ms"`
	P95Ms         float64 `json:"latencyP95Ms"`
	P99Ms         float64 `json:"latencyP99Ms"`
	PeakRSSMB     float64 `json:"peakRssMB"`          // highest of the workers
	CPUMsPerMsg   float64 `json:"cpuMsPerMsg"`        // workers' CPU during the stream (prefill: launch to drained) / N
	HarnessCPUMs  float64 `json:"harnessCpuMsPerMsg"` // this process's CPU (sandbox, collector, publisher, relay) over the same span / N
	FirstOutputMs float64 `json:"firstOutputMs"`      // launch of the first worker to the first output
	APIRequests   int64   `json:"apiRequests"`
	Injected5xx   int64   `json:"injected5xx"`
	Injected429   int64   `json:"injected429"`
	TokenGrants   int64   `json:"tokenExchanges"`
	WorkerExits   []int   `json:"workerExits,omitempty"`
	// Of an idle run: the window, and the workers' context switches and CPU
	// in it.
	IdleSeconds         float64 `json:"idleSeconds,omitempty"`
	IdleContextSwitches int64   `json:"idleContextSwitches,omitempty"`
	IdleCPUMs           float64 `json:"idleCpuMs,omitempty"`
}

// Inputs makes the body of input i for an action against the sandbox's seed.
func Inputs(action string, seed sandbox.Seeded) (func(i int) any, error) {
	ids := seed.PatientIDs
	if len(ids) == 0 {
		return nil, errors.New("the sandbox has no seeded patients")
	}
	switch action {
	case ActionFetchPatient:
		return func(i int) any { return map[string]any{"id": ids[i%len(ids)]} }, nil
	case ActionCreateMetric:
		base := time.Now().Add(-time.Hour).Truncate(time.Second)
		return func(i int) any {
			return map[string]any{"requestBody": map[string]any{"data": map[string]any{
				"type": "patient_health_metric",
				"attributes": map[string]any{"type": "blood_glucose", "value": 80 + i%60, "unit": "mg/dL",
					"occurred_at": base.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)},
				"relationships": map[string]any{"patient": map[string]any{"data": map[string]any{"type": "patient", "id": ids[i%len(ids)]}}},
			}}}
		}, nil
	case ActionToFhir:
		return func(i int) any {
			return map[string]any{"metric": map[string]any{"data": map[string]any{
				"type": "patient_health_metric", "id": fmt.Sprintf("metric-%07d", i),
				"attributes": map[string]any{"type": "weight", "value": 70 + i%30, "unit": "kg",
					"occurred_at": "2026-11-01T07:30:00Z"},
				"relationships": map[string]any{"patient": map[string]any{"data": map[string]any{"type": "patient", "id": ids[i%len(ids)]}}},
			}}}
		}, nil
	}
	return nil, fmt.Errorf("action %q is not supported (%s, %s, %s)", action, ActionFetchPatient, ActionCreateMetric, ActionToFhir)
}

// padded adds a field of n bytes to the inputs of input.
func padded(input func(int) any, n int) func(int) any {
	pad := strings.Repeat("x", n)
	return func(i int) any {
		body, ok := input(i).(map[string]any)
		if !ok {
			return input(i)
		}
		body["padding"] = pad
		return body
	}
}

// Bench runs one benchmark: sandbox, fake platform, topology, workers (or
// the relay), a probe input for the time to first output, then a stream of
// N inputs kept Window deep; it stops by itself within cfg.Timeout. With
// cfg.Prefill the N inputs are published and confirmed first, then the
// workers launched: the time to first output is from launch to the first
// of them, the rate is of the drain, and there are no latency figures.
func Bench(ctx context.Context, cfg BenchConfig) (BenchResult, error) {
	cfg.defaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	res := BenchResult{Mode: "connector", Action: cfg.Action, N: cfg.N, Prefetch: cfg.Prefetch, Workers: cfg.Workers,
		Quorum: cfg.Quorum, Replicas: cfg.Replicas, Nodes: max(len(cfg.NodeURLs), 1), Load: "window", Window: cfg.Window, APILatencyMs: ms(cfg.APILatency), FailRate: cfg.FailRate}
	if cfg.Prefill {
		res.Load, res.Window = "prefill", 0
	}
	if cfg.Idle > 0 {
		res.Load, res.Window, res.N = "idle", 0, 0
	}
	if cfg.BrokerOnly {
		res.Mode, res.Action = "broker", "relay"
		if cfg.RelayBinary != "" {
			res.Action = "relay process"
		}
	}

	var objects *sandbox.ObjectStore
	if cfg.Lightweight {
		objects = sandbox.NewObjectStore(ObjectToken, nil)
	}
	sb, err := sandbox.New(sandbox.Options{Clients: map[string]string{ClientID: ClientSecret}, TokenLifetime: cfg.TokenLifetime,
		NoValidation: cfg.NoValidation, Objects: objects,
		Faults: sandbox.Faults{Latency: cfg.APILatency, FailRate: cfg.FailRate, RateLimitEvery: cfg.RateLimitEvery}})
	if err != nil {
		return res, err
	}
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer sb.Close()
	input, err := Inputs(cfg.Action, sb.Seeded())
	if err != nil {
		return res, err
	}
	if cfg.Pad > 0 {
		input = padded(input, cfg.Pad)
	}
	platform := NewPlatform(StepConfig(base))
	defer platform.Close()

	top, err := DeclareTopology(cfg.AMQPURL, TopologyOptions{Quorum: cfg.Quorum, Replicas: cfg.Replicas})
	if err != nil {
		return res, err
	}
	defer top.Delete()
	cipher, err := sailor.NewCipher(CryptoPassword, CryptoIV)
	if err != nil {
		return res, err
	}
	pub, err := NewPublisher(top, cipher, false)
	if err != nil {
		return res, err
	}
	defer pub.Close()
	pub.Objects = objects
	col, err := StartCollector(top, cipher, CollectorOptions{})
	if err != nil {
		return res, err
	}
	defer col.Stop()

	ids := make([]string, cfg.N)
	for i := range ids {
		ids[i] = fmt.Sprintf("m-%07d", i)
	}
	switch {
	case cfg.Idle > 0:
	case cfg.Prefill:
		// Nothing consumes yet: a stream whose window holds every input.
		if err := stream(ctx, pub, col, ids, input, cfg.ProtocolVersion, len(ids)); err != nil {
			return res, err
		}
	default:
		if err := pub.Publish(ctx, "probe", input(0), cfg.ProtocolVersion); err != nil {
			return res, err
		}
		if err := pub.Confirm(ctx); err != nil {
			return res, err
		}
	}

	var workers []*Worker
	var launched time.Time
	harness0 := selfCPU()
	if cfg.BrokerOnly && cfg.RelayBinary == "" {
		launched = time.Now()
		stop, err := startRelays(ctx, top, cfg.Prefetch, cfg.Workers, cfg.APILatency)
		if err != nil {
			return res, err
		}
		defer stop()
	} else {
		bin := cfg.Binary
		if cfg.BrokerOnly {
			bin = cfg.RelayBinary
		} else if bin == "" {
			if bin, err = BuildConnector(); err != nil {
				return res, err
			}
		}
		extra := map[string]string{"ELASTICIO_PROTOCOL_VERSION": itoa(cfg.ProtocolVersion)}
		if cfg.LogLevel != "" {
			extra["LOG_LEVEL"] = cfg.LogLevel
		}
		if cfg.Lightweight {
			extra["ELASTICIO_OBJECT_STORAGE_URI"] = strings.TrimSuffix(base, sandbox.BasePath)
			extra["ELASTICIO_OBJECT_STORAGE_TOKEN"] = ObjectToken
			extra["ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE"] = "true"
			extra["ELASTICIO_OBJECT_STORAGE_SIZE_THRESHOLD"] = "1"
		}
		for k, v := range cfg.Extra {
			extra[k] = v
		}
		env, args := WorkerEnv(top, platform.URL(), cfg.Action, cfg.Prefetch, extra), []string{"run"}
		if cfg.BrokerOnly {
			env, args = RelayEnv(top, cfg.Prefetch, cfg.APILatency), []string{"relay"}
		}
		defer func() {
			for _, w := range workers {
				if !w.Exited() {
					_, _ = w.Stop(10 * time.Second)
				}
			}
		}()
		if cfg.Prefill {
			harness0 = selfCPU()
		}
		for i := 0; i < cfg.Workers; i++ {
			w, err := StartWorker(bin, onNode(env, cfg.NodeURLs, i), args...)
			if err != nil {
				return res, err
			}
			if i == 0 {
				launched = w.Started
			}
			workers = append(workers, w)
		}
	}
	if cfg.Idle > 0 {
		return idle(ctx, res, workers, cfg.Idle)
	}
	cpu0 := time.Duration(0)
	if !cfg.Prefill {
		probeCtx, probeCancel := context.WithTimeout(ctx, 30*time.Second)
		err = col.WaitSettled(probeCtx, []string{"probe"}, nil)
		probeCancel()
		if err != nil {
			return res, fmt.Errorf("probe input: %w%s", err, firstOutput(workers))
		}
		res.FirstOutputMs = ms(col.Record("probe").FirstAt.Sub(launched))
		for _, w := range workers {
			if err := w.WaitReady(30 * time.Second); err != nil {
				return res, err
			}
		}
		for _, w := range workers {
			cpu0 += w.Sample().CPU
		}
		harness0 = selfCPU()
	}

	start := time.Now()
	if !cfg.Prefill {
		if err := stream(ctx, pub, col, ids, input, cfg.ProtocolVersion, cfg.Window); err != nil {
			return res, err
		}
	}
	waitCtx, waitCancel := context.WithCancel(ctx)
	err = waitStalled(waitCtx, col, ids, 30*time.Second)
	waitCancel()
	var cpu1 time.Duration
	for _, w := range workers {
		cpu1 += w.Sample().CPU
	}
	harness1 := selfCPU()
	// Dead letters of errored inputs arrive just after their error events.
	time.Sleep(200 * time.Millisecond)

	res.Tally = col.Tally(ids)
	var first, last time.Time
	lat := make([]float64, 0, len(ids))
	for _, id := range ids {
		r := col.Record(id)
		if r.FirstAt.IsZero() {
			continue
		}
		if r.FirstAt.After(last) {
			last = r.FirstAt
		}
		if first.IsZero() || r.FirstAt.Before(first) {
			first = r.FirstAt
		}
		if sent, ok := pub.SentAt(id); ok && !cfg.Prefill {
			lat = append(lat, ms(r.FirstAt.Sub(sent)))
		}
	}
	if cfg.Prefill {
		// The drain: from the first output to the last; no latency, as every
		// input waited in the queue from before the launch.
		start = first
		if !first.IsZero() && !cfg.BrokerOnly {
			res.FirstOutputMs = ms(first.Sub(launched))
		}
	}
	if !last.IsZero() {
		res.Seconds = last.Sub(start).Seconds()
		if res.Seconds > 0 {
			res.MsgsPerSec = float64(res.OK+res.Errors) / res.Seconds
		}
	}
	res.P50Ms, res.P95Ms, res.P99Ms = Percentile(lat, 50), Percentile(lat, 95), Percentile(lat, 99)
	if harness1 > harness0 {
		res.HarnessCPUMs = ms(harness1-harness0) / float64(cfg.N)
	}
	for _, w := range workers {
		code, werr := w.Stop(30 * time.Second)
		res.WorkerExits = append(res.WorkerExits, code)
		if werr != nil && err == nil {
			err = werr
		}
		u := w.Final()
		res.PeakRSSMB = max(res.PeakRSSMB, float64(u.PeakRSSKB)/1024)
	}
	if cfg.N > 0 && cpu1 > cpu0 {
		res.CPUMsPerMsg = ms(cpu1-cpu0) / float64(cfg.N)
	}
	st := sb.Stats()
	res.APIRequests, res.Injected5xx, res.Injected429, res.TokenGrants = st.Requests, st.Injected5xx, st.Injected429, st.TokenExchanges
	return res, err
}

// onNode is the environment of worker (or relay process) i: env with its
// broker URL set to nodes[i mod len(nodes)]; env itself without nodes.
func onNode(env map[string]string, nodes []string, i int) map[string]string {
	if len(nodes) == 0 {
		return env
	}
	out := maps.Clone(env)
	key := "ELASTICIO_AMQP_URI"
	if _, relay := env["LOADBENCH_AMQP_URL"]; relay {
		key = "LOADBENCH_AMQP_URL"
	}
	out[key] = nodes[i%len(nodes)]
	return out
}

// idle measures workers consuming an empty queue: once they are ready and
// a second has passed (start-up done), their context switches and CPU
// over the window.
func idle(ctx context.Context, res BenchResult, workers []*Worker, window time.Duration) (BenchResult, error) {
	if len(workers) == 0 {
		return res, errors.New("an idle run needs worker processes (with --broker-only, --relay-process)")
	}
	for _, w := range workers {
		if err := w.WaitReady(30 * time.Second); err != nil {
			return res, err
		}
	}
	if err := sleepCtx(ctx, time.Second); err != nil {
		return res, err
	}
	before := make([]Usage, len(workers))
	for i, w := range workers {
		before[i] = w.Sample()
	}
	start := time.Now()
	if err := sleepCtx(ctx, window); err != nil {
		return res, err
	}
	for i, w := range workers {
		after := w.Sample()
		res.IdleContextSwitches += after.ContextSwitches - before[i].ContextSwitches
		res.IdleCPUMs += ms(after.CPU - before[i].CPU)
	}
	res.IdleSeconds = time.Since(start).Seconds()
	for _, w := range workers {
		code, err := w.Stop(30 * time.Second)
		res.WorkerExits = append(res.WorkerExits, code)
		if err != nil {
			return res, err
		}
		res.PeakRSSMB = max(res.PeakRSSMB, float64(w.Final().PeakRSSKB)/1024)
	}
	return res, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func firstOutput(workers []*Worker) string {
	if len(workers) == 0 {
		return ""
	}
	out := workers[0].Output()
	if len(out) > 4000 {
		out = out[len(out)-4000:]
	}
	return "; worker output:\n" + out
}

// stream publishes ids, keeping at most window inputs unsettled.
func stream(ctx context.Context, pub *Publisher, col *Collector, ids []string, input func(int) any, version, window int) error {
	baseline := col.Settled()
	for i, id := range ids {
		for i-(col.Settled()-baseline) >= window {
			wake := col.Changed()
			if i-(col.Settled()-baseline) < window {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("stream stalled at %d of %d inputs: %w", i, len(ids), ctx.Err())
			case <-wake:
			case <-time.After(100 * time.Millisecond):
			}
		}
		if err := pub.Publish(ctx, id, input(i+1), version); err != nil {
			return err
		}
		if i%256 == 255 {
			if err := pub.Confirm(ctx); err != nil {
				return err
			}
		}
	}
	return pub.Confirm(ctx)
}

// selfCPU is this process's user + system CPU time (0 off Unix).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitStalled waits until every id is settled, or nothing settles for
// quiet, or ctx ends. It returns nil in every case: what is missing is
// counted as lost.
func waitStalled(ctx context.Context, col *Collector, ids []string, quiet time.Duration) error {
	for {
		n := col.Settled()
		qctx, cancel := context.WithTimeout(ctx, quiet)
		err := col.WaitSettled(qctx, ids, nil)
		cancel()
		if err == nil || ctx.Err() != nil || col.Settled() == n {
			return nil
		}
	}
}

// RelayEnv is the environment of a relay process (RunRelay) on top.
func RelayEnv(top *Topology, prefetch int, delay time.Duration) map[string]string {
	return map[string]string{"LOADBENCH_AMQP_URL": top.URL, "LOADBENCH_INPUT": top.Input,
		"LOADBENCH_EXCHANGE": top.Exchange, "LOADBENCH_DATA_KEY": top.DataKey, "LOADBENCH_PREFETCH": itoa(prefetch),
		"LOADBENCH_DELAY": delay.String()}
}

// RunRelay is a relay process: one relay (as startRelays) configured by
// RelayEnv's variables, until ctx ends. It prints ReadyLine once consuming.
// It runs with the Go runtime's defaults, as the worker does: the floor of a
// Go process doing the worker's AMQP work.
func RunRelay(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	prefetch, err := strconv.Atoi(getenv("LOADBENCH_PREFETCH"))
	if err != nil || prefetch < 1 {
		return fmt.Errorf("relay: LOADBENCH_PREFETCH %q is not a positive number", getenv("LOADBENCH_PREFETCH"))
	}
	top := &Topology{URL: getenv("LOADBENCH_AMQP_URL"), Input: getenv("LOADBENCH_INPUT"),
		Exchange: getenv("LOADBENCH_EXCHANGE"), DataKey: getenv("LOADBENCH_DATA_KEY")}
	var delay time.Duration
	if v := getenv("LOADBENCH_DELAY"); v != "" {
		if delay, err = time.ParseDuration(v); err != nil || delay < 0 {
			return fmt.Errorf("relay: LOADBENCH_DELAY %q is not a duration", v)
		}
	}
	stop, err := startRelays(ctx, top, prefetch, 1, delay)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintln(stdout, ReadyLine)
	<-ctx.Done()
	return nil
}

// startRelays runs n in-process relays: each consumes the input queue with
// prefetch, republishes every message to the data key on a confirm channel
// (waiting for the confirm, as the worker does) and then acks it. No
// decryption, no work: the broker's ceiling on this machine. A delay (the
// benchmark's API latency) is waited before republishing, as a worker waits
// for the API: the ceiling of Little's law with the same broker.
func startRelays(ctx context.Context, top *Topology, prefetch, n int, delay time.Duration) (func(), error) {
	var conns []*amqp.Connection
	stop := func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}
	for i := 0; i < n; i++ {
		read, err := amqp.Dial(top.URL)
		if err != nil {
			stop()
			return nil, err
		}
		conns = append(conns, read)
		write, err := amqp.Dial(top.URL)
		if err != nil {
			stop()
			return nil, err
		}
		conns = append(conns, write)
		rch, err := read.Channel()
		if err == nil {
			err = rch.Qos(prefetch, 0, false)
		}
		var deliveries <-chan amqp.Delivery
		if err == nil {
			deliveries, err = rch.Consume(top.Input, "", false, false, false, false, nil)
		}
		var wch *amqp.Channel
		if err == nil {
			wch, err = write.Channel()
		}
		if err == nil {
			err = wch.Confirm(false)
		}
		if err != nil {
			stop()
			return nil, fmt.Errorf("relay: %w", err)
		}
		go func() {
			for d := range deliveries {
				go relay(ctx, wch, top, d, delay)
			}
		}()
	}
	return stop, nil
}

func relay(ctx context.Context, ch *amqp.Channel, top *Topology, d amqp.Delivery, delay time.Duration) {
	if delay > 0 { // as the worker waits for the API
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
	h := amqp.Table{"parentMessageId": d.Headers["messageId"], "messageId": "relay-" + header(d.Headers, "messageId")}
	if v, ok := d.Headers["protocolVersion"]; ok {
		h["protocolVersion"] = v
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, top.Exchange, top.DataKey, false, false,
		amqp.Publishing{ContentType: "application/json", ContentEncoding: "utf8", Headers: h, Body: d.Body})
	if err != nil {
		return
	}
	if ok, err := dc.WaitContext(ctx); err != nil || !ok {
		return
	}
	_ = d.Ack(false)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Percentile is the p-th percentile (nearest rank) of xs; 0 when empty.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}
