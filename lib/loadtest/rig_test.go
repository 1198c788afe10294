//go:build integration

package loadtest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/loadtest"
	"github.com/fitbitplus/connector/lib/sailor"
	"github.com/fitbitplus/connector/lib/sandbox"
)

// rig is one fault case: the sandbox (optionally behind a fault-injecting
// wrapper), the fake platform, a topology, the publisher and the collector.
type rig struct {
	t        *testing.T
	url      string
	sb       *sandbox.Sandbox
	api      string // the sandbox's base URL as the worker sees it
	platform *loadtest.Platform
	top      *loadtest.Topology
	cipher   *sailor.Cipher
	pub      *loadtest.Publisher
	col      *loadtest.Collector
	input    func(int) any
	bin      string
	objects  *sandbox.ObjectStore // with rigOptions.objects: served beside the sandbox
}

type rigOptions struct {
	url        string
	clientURL  string // the publisher, collector and inspections connect here (default url, declared through)
	sandbox    sandbox.Options
	wrap       func(http.Handler) http.Handler // serves the sandbox through this when set
	topology   loadtest.TopologyOptions
	persistent bool
	noCollect  bool // start the collector later (rig.collect)
	objects    bool // serve a stand-in object store beside the sandbox; the workers use it
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	if o.url == "" {
		o.url = loadtest.AMQPURL()
	}
	r := &rig{t: t, url: o.url}
	o.sandbox.Clients = map[string]string{loadtest.ClientID: loadtest.ClientSecret}
	if o.objects {
		r.objects = sandbox.NewObjectStore(objectToken, nil)
		o.sandbox.Objects = r.objects
	}
	sb, err := sandbox.New(o.sandbox)
	if err != nil {
		t.Fatal(err)
	}
	r.sb = sb
	if o.wrap != nil {
		srv := httptest.NewServer(o.wrap(sb.Handler()))
		t.Cleanup(srv.Close)
		r.api = srv.URL + sandbox.BasePath
	} else {
		base, err := sb.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sb.Close() })
		r.api = base
	}
	if r.input, err = loadtest.Inputs(loadtest.ActionFetchPatient, sb.Seeded()); err != nil {
		t.Fatal(err)
	}
	r.platform = loadtest.NewPlatform(loadtest.StepConfig(r.api))
	t.Cleanup(r.platform.Close)
	if r.top, err = loadtest.DeclareTopology(o.url, o.topology); err != nil {
		t.Fatalf("broker at %s: %v (start one with scripts/rabbitmq.sh start)", o.url, err)
	}
	if o.clientURL != "" {
		r.top.URL = o.clientURL
	}
	t.Cleanup(func() { _ = r.top.Delete() })
	if r.cipher, err = sailor.NewCipher(loadtest.CryptoPassword, loadtest.CryptoIV); err != nil {
		t.Fatal(err)
	}
	if r.pub, err = loadtest.NewPublisher(r.top, r.cipher, o.persistent); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.pub.Close() })
	if !o.noCollect {
		r.collect()
	}
	// LOADTEST_CONNECTOR runs the suite against another build (an older
	// one, to see a regression test fail).
	if r.bin = os.Getenv("LOADTEST_CONNECTOR"); r.bin == "" {
		if r.bin, err = loadtest.BuildConnector(); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// collect starts the collector.
func (r *rig) collect() {
	r.t.Helper()
	col, err := loadtest.StartCollector(r.top, r.cipher, loadtest.CollectorOptions{KeepOutputs: true})
	if err != nil {
		r.t.Fatal(err)
	}
	r.col = col
	r.t.Cleanup(col.Stop)
}

// publish publishes n fetchPatient inputs named prefix-i and waits for the
// confirms.
func (r *rig) publish(prefix string, n int) []string {
	r.t.Helper()
	return r.publishInputs(prefix, n, r.input)
}

// publishInputs publishes input(i) as prefix-i, for i < n, and waits for the
// confirms.
func (r *rig) publishInputs(prefix string, n int, input func(int) any) []string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%04d", prefix, i)
		if err := r.pub.Publish(ctx, ids[i], input(i), 1); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := r.pub.Confirm(ctx); err != nil {
		r.t.Fatal(err)
	}
	return ids
}

// env is the worker's environment with quick rebounds (the rebound queue
// dead-letters back into the input) and extra settings.
func (r *rig) env(prefetch int, extra map[string]string) map[string]string {
	e := map[string]string{"ELASTICIO_REBOUND_INITIAL_EXPIRATION": "200", "LOG_LEVEL": "info"}
	if r.objects != nil {
		e["ELASTICIO_OBJECT_STORAGE_URI"] = strings.TrimSuffix(r.api, sandbox.BasePath)
		e["ELASTICIO_OBJECT_STORAGE_TOKEN"] = objectToken
	}
	for k, v := range extra {
		e[k] = v
	}
	return loadtest.WorkerEnv(r.top, r.platform.URL(), loadtest.ActionFetchPatient, prefetch, e)
}

// start launches `connector run` and waits until it consumes; the worker is
// stopped at cleanup and its output logged when the test failed.
func (r *rig) start(env map[string]string) *loadtest.Worker {
	r.t.Helper()
	w, err := loadtest.StartWorker(r.bin, env)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		if !w.Exited() {
			_, _ = w.Stop(15 * time.Second)
		}
		if r.t.Failed() {
			out := w.Output()
			if len(out) > 6000 {
				out = "…" + out[len(out)-6000:]
			}
			r.t.Logf("worker %d output:\n%s", w.Pid(), out)
		}
	})
	if err := w.WaitReady(20 * time.Second); err != nil {
		r.t.Fatal(err)
	}
	return w
}

// waitSettled waits (bounded) for every id to have an outcome.
func (r *rig) waitSettled(ids []string, timeout time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := r.col.WaitSettled(ctx, ids, nil); err != nil {
		r.t.Fatalf("%v; tally %+v", err, r.col.Tally(ids))
	}
}

// waitCount waits (bounded) until at least n inputs are settled.
func (r *rig) waitCount(n int, timeout time.Duration) {
	r.t.Helper()
	deadline := time.After(timeout)
	for r.col.Settled() < n {
		select {
		case <-deadline:
			r.t.Fatalf("only %d inputs settled within %v, want %d", r.col.Settled(), timeout, n)
		case <-r.col.Changed():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// expect asserts that every id ended as want(id) ("data", "error" or
// "dead"), that an error also dead-lettered its input, that nothing else
// came out, and that there are at most maxDup duplicates; it logs the tally.
func (r *rig) expect(ids []string, want func(id string) string, maxDup int) loadtest.Tally {
	r.t.Helper()
	// Dead letters follow their error events: wait (bounded) until every
	// input has all the outcomes it should have.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = r.col.WaitSettled(ctx, ids, func(id string, rec loadtest.Record) bool {
		switch want(id) {
		case "error":
			return rec.Errors > 0 && rec.Dead > 0
		case "dead":
			return rec.Dead > 0
		}
		return rec.Data > 0
	})
	cancel()
	tally := r.col.Tally(ids)
	und, unm, rec := r.col.Anomalies()
	r.t.Logf("%s: inputs=%d ok=%d errors=%d lost=%d duplicates=%d dead-lettered=%d (undecodable=%d unmatched=%d collector reconnects=%d)",
		r.t.Name(), tally.Inputs, tally.OK, tally.Errors, tally.Lost, tally.Duplicates, tally.DeadLettered, und, unm, rec)
	if und > 0 || unm > 0 {
		r.t.Errorf("%d outputs could not be decrypted and %d matched no input", und, unm)
	}
	bad := 0
	for _, id := range ids {
		rec := r.col.Record(id)
		w := want(id)
		ok := rec.Outcome() == w
		switch w {
		case "data":
			ok = ok && rec.Errors == 0 && rec.Dead == 0
		case "error":
			ok = ok && rec.Data == 0 && rec.Dead == 1
		case "dead":
			ok = ok && rec.Data == 0 && rec.Errors == 0 && rec.Dead == 1
		}
		if !ok {
			bad++
			if bad <= 10 {
				r.t.Errorf("input %s: want %s, got data=%d errors=%d dead=%d %v", id, w, rec.Data, rec.Errors, rec.Dead, rec.ErrorMessages)
			}
		}
	}
	if tally.Duplicates > maxDup {
		r.t.Errorf("%d duplicates, at most %d allowed", tally.Duplicates, maxDup)
	}
	return tally
}

func allData(string) string { return "data" }

// depth is the number of ready messages in a queue.
func (r *rig) depth(q string) int {
	r.t.Helper()
	n, _, err := r.top.Depth(q)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// privateBroker starts a broker of this test's own on port (skipping the
// test when it cannot) and stops it at cleanup.
func privateBroker(t *testing.T, port int) loadtest.Broker {
	t.Helper()
	b, started, err := loadtest.StartBroker(port)
	if err != nil {
		t.Skipf("cannot start a private broker: %v", err)
	}
	if started {
		t.Cleanup(func() {
			if err := b.Stop(); err != nil {
				t.Log(err)
			}
		})
	}
	return b
}

// supervisor restarts the worker whenever it exits non-zero, as the
// platform restarts a failed container; it stops at cleanup.
type supervisor struct {
	mu       sync.Mutex
	current  *loadtest.Worker
	restarts int
	exits    []int // the exit codes of the workers it replaced
	stop     chan struct{}
	done     chan struct{}
}

// waitOutput waits (bounded) until the current worker's output holds one of
// lines.
func (s *supervisor) waitOutput(t *testing.T, timeout time.Duration, lines ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		out := s.current.Output()
		s.mu.Unlock()
		for _, l := range lines {
			if strings.Contains(out, l) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not log any of %q within %v", lines, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) supervise(env map[string]string) *supervisor {
	return r.superviseWith(func(int) map[string]string { return env })
}

// superviseWith is supervise with the environment of each start: env(0)
// first, env(n) at the nth restart.
func (r *rig) superviseWith(env func(restart int) map[string]string) *supervisor {
	s := &supervisor{stop: make(chan struct{}), done: make(chan struct{})}
	s.current = r.start(env(0))
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			s.mu.Lock()
			w := s.current
			s.mu.Unlock()
			if !w.Exited() {
				continue
			}
			s.mu.Lock()
			n := s.restarts + 1
			s.mu.Unlock()
			nw, err := loadtest.StartWorker(r.bin, env(n))
			if err != nil {
				continue
			}
			code, _ := w.Wait(time.Second) // it has exited: at once
			s.mu.Lock()
			s.current, s.restarts, s.exits = nw, n, append(s.exits, code)
			s.mu.Unlock()
		}
	}()
	r.t.Cleanup(func() {
		close(s.stop)
		<-s.done
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.current.Exited() {
			_, _ = s.current.Stop(15 * time.Second)
		}
	})
	return s
}
