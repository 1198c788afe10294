//go:build integration

package loadtest_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fitbitplus/connector/actions"
	"github.com/fitbitplus/connector/lib/fitbitplus"
	"github.com/fitbitplus/connector/lib/loadtest"
	"github.com/fitbitplus/connector/lib/sailor"
	"github.com/fitbitplus/connector/lib/sandbox"
	amqp "github.com/rabbitmq/amqp091-go"
)

// The fault suite: each case runs a stream of inputs through a real broker
// and `connector run` and asserts what became of every input. Duplicates are
// allowed only where the protocol makes them (an input whose output was
// published but whose ack was lost is redelivered and processed again), and
// are counted in the log.

const prefetch = 10

func TestFaultBrokerRestart(t *testing.T) {
	broker := privateBroker(t, 5682)
	// 50 ms API latency at prefetch 5: the stream lasts about 3 s, so that
	// the restart lands in it.
	r := newRig(t, rigOptions{url: broker.URL, persistent: true,
		sandbox: sandbox.Options{Faults: sandbox.Faults{Latency: 50 * time.Millisecond}}})
	ids := r.publish("restart", 300)
	sup := r.supervise(r.env(5, map[string]string{
		"ELASTICIO_AMQP_PERSISTENT_MESSAGES": "true",
		// Ride out the restart instead of exiting; the supervisor restarts
		// the worker if it exits anyway, as the platform would.
		"ELASTICIO_AMQP_RECONNECT_ATTEMPTS": "100", "ELASTICIO_AMQP_RECONNECT_TIMEOUT": "200",
	}))
	r.waitCount(40, 30*time.Second)
	if _, err := broker.Ctl("stop_app"); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	atStop := r.col.Settled()
	// The outage lasts until the worker has tried to reconnect and failed.
	sup.waitOutput(t, 30*time.Second, "reconnect consumer failed", "connect write failed")
	if _, err := broker.Ctl("start_app"); err != nil {
		t.Fatal(err)
	}
	if atStop >= len(ids) {
		t.Fatal("the stream ended before the broker stopped; the case proves nothing")
	}
	r.waitSettled(ids, 60*time.Second)
	tally := r.expect(ids, allData, 5)
	// Only an input whose output the broker had before the outage may be
	// output twice: the worker abandons what it has not published once its
	// input's channel is gone.
	confirmedBefore := 0
	for _, id := range ids {
		rec := r.col.Record(id)
		before := !rec.FirstEnd.IsZero() && rec.FirstEnd.Before(stopped)
		if before {
			confirmedBefore++
		}
		if rec.Data > 1 && !before {
			t.Errorf("input %s was output %d times, its first output published after the outage began", id, rec.Data)
		}
	}
	sup.mu.Lock()
	t.Logf("broker restarted after %d of %d inputs settled (%d published before it stopped); worker restarts %d; duplicates %d",
		atStop, len(ids), confirmedBefore, sup.restarts, tally.Duplicates)
	sup.mu.Unlock()
}

// TestFaultUnpublishableOutputs feeds inputs whose events no retry can
// publish: an error whose copy for reply_to has a routing key over 255 bytes,
// and outputs whose headers do not fit in a frame; and, on a worker whose
// data size limit no output meets, ordinary inputs. Each is settled at once,
// and the input after it is processed within a second.
func TestFaultUnpublishableOutputs(t *testing.T) {
	const frameMax = 131072 // RabbitMQ's default, which the client accepts
	// check: every input settles, and the one after each unpublishable
	// input within a second of it, with no publish retried.
	check := func(r *rig, w *loadtest.Worker, ids []string) {
		r.t.Helper()
		r.waitSettled(ids, 30*time.Second)
		for i := 1; i < len(ids); i++ {
			prev, next := r.col.Record(ids[i-1]), r.col.Record(ids[i])
			if took := next.SettledAt.Sub(prev.SettledAt); took > time.Second {
				r.t.Errorf("input %s waited %v after %s", ids[i], took, ids[i-1])
			}
		}
		if n := strings.Count(w.Output(), "publish failed; retrying"); n > 0 {
			r.t.Errorf("%d publishes were retried", n)
		}
	}
	publish := func(r *rig, id string, body any, extra amqp.Table) {
		r.t.Helper()
		plain, _ := json.Marshal(map[string]any{"headers": map[string]any{}, "body": body})
		h := loadtest.InputHeaders(id)
		for k, v := range extra {
			h[k] = v
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.pub.PublishRaw(ctx, id, r.cipher.EncryptMessage(plain, 1), h); err != nil {
			r.t.Fatal(err)
		}
		if err := r.pub.Confirm(ctx); err != nil {
			r.t.Fatal(err)
		}
	}
	t.Run("routing_key_and_frame", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		// Every output carries a 4 KB header of this step's; an input whose
		// headers nearly fill a frame makes its outputs too large for one.
		w := r.start(r.env(1, map[string]string{"ELASTICIO_ADDITIONAL_VARS_FOR_HEADERS": "STEP_NOTE",
			"STEP_NOTE": strings.Repeat("n", 4096)}))
		publish(r, "reply-to-300", map[string]any{"id": "no-such-patient"}, amqp.Table{"reply_to": strings.Repeat("r", 300)})
		publish(r, "after-reply-to", r.input(1), nil)
		publish(r, "meta-over-frame", r.input(2), amqp.Table{"x-eio-meta-big": strings.Repeat("m", frameMax-2048)})
		publish(r, "after-meta", r.input(3), nil)
		check(r, w, []string{"reply-to-300", "after-reply-to", "meta-over-frame", "after-meta"})
		want := map[string]string{"reply-to-300": "error", "meta-over-frame": "dead", "after-reply-to": "data", "after-meta": "data"}
		for id, o := range want {
			if got := r.col.Record(id).Outcome(); got != o {
				t.Errorf("input %s: %s, want %s", id, got, o)
			}
		}
	})
	t.Run("data_over_the_size_limit", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		w := r.start(r.env(1, map[string]string{"ELASTICIO_OUTGOING_MESSAGE_SIZE_LIMIT": "100"}))
		ids := []string{"big-0", "big-1", "big-2"}
		for i, id := range ids {
			publish(r, id, r.input(i), nil)
		}
		check(r, w, ids)
		for _, id := range ids {
			if rec := r.col.Record(id); rec.Outcome() != "error" || !strings.Contains(strings.Join(rec.ErrorMessages, " "), "exceeds limit of 100") {
				t.Errorf("input %s: %s %v", id, rec.Outcome(), rec.ErrorMessages)
			}
		}
	})
}

func TestFaultSIGKILL(t *testing.T) {
	r := newRig(t, rigOptions{sandbox: sandbox.Options{Faults: sandbox.Faults{Latency: 5 * time.Millisecond}}})
	ids := r.publish("kill", 400)
	w := r.start(r.env(prefetch, nil))
	r.waitCount(100, 30*time.Second)
	if err := w.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	killedAt := r.col.Settled()
	r.start(r.env(prefetch, nil))
	r.waitSettled(ids, 60*time.Second)
	tally := r.expect(ids, allData, prefetch)
	t.Logf("SIGKILL after %d settled inputs; duplicates (true redeliveries) %d", killedAt, tally.Duplicates)
}

func TestFaultSIGTERM(t *testing.T) {
	r := newRig(t, rigOptions{sandbox: sandbox.Options{Faults: sandbox.Faults{Latency: 20 * time.Millisecond}}})
	ids := r.publish("term", 300)
	w := r.start(r.env(5, nil))
	r.waitCount(50, 30*time.Second)
	if err := w.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := w.Wait(15 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit code %d, %v", code, err)
	}
	// Outputs published before the exit reach the collector a moment later.
	deadline := time.Now().Add(10 * time.Second)
	for r.col.Settled()+r.depth(r.top.Input) < len(ids) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	settled := r.col.Settled()
	left := r.depth(r.top.Input)
	t.Logf("SIGTERM: %d inputs finished, %d left in the queue", settled, left)
	if settled+left != len(ids) {
		t.Errorf("after SIGTERM %d settled + %d left in the queue != %d inputs", settled, left, len(ids))
	}
	if left == 0 {
		t.Error("the whole stream was processed before SIGTERM; the case proves nothing")
	}
	if tally := r.col.Tally(ids); tally.Duplicates > 0 || tally.Errors > 0 {
		t.Errorf("after SIGTERM: %+v", tally)
	}
	r.start(r.env(5, nil))
	r.waitSettled(ids, 60*time.Second)
	r.expect(ids, allData, 0)
}

func TestFaultAPI(t *testing.T) {
	t.Run("5xx_10pct", func(t *testing.T) {
		r := newRig(t, rigOptions{sandbox: sandbox.Options{Seed: 7, Faults: sandbox.Faults{FailRate: 0.1}}})
		ids := r.publish("fail", 300)
		r.start(r.env(prefetch, nil))
		r.waitSettled(ids, 60*time.Second)
		r.expect(ids, allData, 0)
		if st := r.sb.Stats(); st.Injected5xx < 10 {
			t.Errorf("only %d injected 5xx answers", st.Injected5xx)
		} else {
			t.Logf("injected 5xx: %d of %d requests", st.Injected5xx, st.Requests)
		}
	})
	t.Run("429_retry_after", func(t *testing.T) {
		r := newRig(t, rigOptions{sandbox: sandbox.Options{Faults: sandbox.Faults{RateLimitEvery: 10, RetryAfter: time.Second}}})
		ids := r.publish("limit", 200)
		r.start(r.env(prefetch, nil))
		r.waitSettled(ids, 90*time.Second)
		r.expect(ids, allData, 0)
		if st := r.sb.Stats(); st.Injected429 < 10 {
			t.Errorf("only %d injected 429 answers", st.Injected429)
		} else {
			t.Logf("injected 429: %d of %d requests", st.Injected429, st.Requests)
		}
	})
	t.Run("slow_beyond_client_timeout", func(t *testing.T) {
		// `connector run` has no setting for the API client's per-attempt
		// timeout (30 s), so this case runs the same worker in process with
		// the generated actions and a 300 ms attempt timeout; every 4th API
		// request is answered after 1 s.
		var n, slowed atomic.Int64
		slow := func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if n.Add(1)%4 == 0 {
					slowed.Add(1)
					select {
					case <-time.After(time.Second):
					case <-req.Context().Done():
						return
					}
				}
				h.ServeHTTP(w, req)
			})
		}
		r := newRig(t, rigOptions{wrap: slow})
		ids := r.publish("slow", 200)
		runInProcess(t, r, r.env(prefetch, nil), fitbitplus.WithAttemptTimeout(300*time.Millisecond))
		r.waitSettled(ids, 90*time.Second)
		r.expect(ids, allData, 0)
		t.Logf("slowed requests: %d of %d", slowed.Load(), n.Load())
	})
}

// runInProcess runs sailor.Run with the generated actions in this process
// until the test ends.
func runInProcess(t *testing.T, r *rig, env map[string]string, opts ...fitbitplus.Option) {
	t.Helper()
	s, err := sailor.LoadSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{}
	var mu = make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- sailor.Run(ctx, s, sailor.Deps{
			Functions: actions.Registry,
			API:       fitbitplus.NewClients(fitbitplus.Defaults{}, nil, opts...),
			Logger:    sailor.NewLogger(lockedWriter{logs, mu}, s.LogOptions("loadtest")),
			Hostname:  "loadtest-" + r.top.Name,
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("worker: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("in-process worker did not stop")
		}
		if t.Failed() {
			mu <- struct{}{}
			t.Logf("worker output:\n%s", logs.String())
			<-mu
		}
	})
}

type lockedWriter struct {
	b  *strings.Builder
	mu chan struct{}
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.b.Write(p)
}

func TestFaultTokens(t *testing.T) {
	// Tokens live 2 s; the token endpoint fails from 1.5 s to 4 s into the stream.
	var outage atomic.Bool
	var refused atomic.Int64
	tokenOutage := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if outage.Load() && strings.HasSuffix(req.URL.Path, "/oauth/token") {
				refused.Add(1)
				w.Header().Set("Content-Type", sandbox.MediaType)
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"errors":[{"status":"503","code":"ServiceUnavailable","title":"token endpoint down (test)"}]}`))
				return
			}
			h.ServeHTTP(w, req)
		})
	}
	r := newRig(t, rigOptions{wrap: tokenOutage,
		sandbox: sandbox.Options{TokenLifetime: 2 * time.Second, Faults: sandbox.Faults{Latency: 40 * time.Millisecond}}})
	ids := r.publish("token", 300)
	r.start(r.env(2, nil)) // about 6 s of stream
	// The token endpoint goes down a fifth into the stream and comes back
	// once it has refused three exchanges (tokens live 2 s).
	r.waitCount(60, 30*time.Second)
	outage.Store(true)
	deadline := time.Now().Add(30 * time.Second)
	for refused.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	outage.Store(false)
	r.waitSettled(ids, 90*time.Second)
	r.expect(ids, allData, 0)
	st := r.sb.Stats()
	t.Logf("token exchanges %d (refreshes %d), refused during the outage %d", st.TokenExchanges, st.TokenRefreshes, refused.Load())
	if st.TokenExchanges < 3 {
		t.Errorf("tokens were not renewed: %d exchanges", st.TokenExchanges)
	}
	if refused.Load() == 0 {
		t.Error("no token exchange hit the outage; the case proves nothing")
	}
}

func TestFaultFullNextQueue(t *testing.T) {
	const limit = 50
	r := newRig(t, rigOptions{topology: loadtest.TopologyOptions{DataMaxLength: limit}, noCollect: true})
	ids := r.publish("full", 200)
	w := r.start(r.env(prefetch, map[string]string{
		"ELASTICIO_AMQP_PUBLISH_RETRY_DELAY": "50", "ELASTICIO_AMQP_PUBLISH_MAX_RETRY_DELAY": "400"}))
	// Nobody drains the next queue: it fills up, publishes are nacked and
	// retried, and the worker holds its inputs.
	deadline := time.Now().Add(20 * time.Second)
	for r.depth(r.top.DataQueue) < limit && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// Hold the queue full until the worker has retried publishes several
	// times (its retries back off up to 400 ms).
	for strings.Count(w.Output(), "publish failed; retrying") < 10*prefetch && time.Now().Before(deadline.Add(20*time.Second)) {
		time.Sleep(50 * time.Millisecond)
	}
	data, input := r.depth(r.top.DataQueue), r.depth(r.top.Input)
	t.Logf("full next queue: %d in it, %d inputs ready, %d held by the worker", data, input, len(ids)-data-input)
	if data != limit {
		t.Errorf("next queue holds %d, want its limit %d", data, limit)
	}
	if held := len(ids) - data - input; held < 0 || held > prefetch {
		t.Errorf("%d inputs neither in the input queue nor output: want at most prefetch (%d) held", held, prefetch)
	}
	if n := r.depth(r.top.DeadQueue); n != 0 {
		t.Errorf("%d inputs dead-lettered while the next queue was full", n)
	}
	if !strings.Contains(w.Output(), "publish failed; retrying") {
		t.Error("the worker did not log publish retries")
	}
	r.collect()
	r.waitSettled(ids, 60*time.Second)
	r.expect(ids, allData, 0)
}

func TestFaultBadInputs(t *testing.T) {
	r := newRig(t, rigOptions{})
	wrong, err := sailor.NewCipher("not-the-step-password", loadtest.CryptoIV)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := map[string]string{}
	var ids []string
	pad := strings.Repeat("x", 1<<20)
	for i := 0; i < 300; i++ {
		id := fmt.Sprintf("mixed-%04d", i)
		ids = append(ids, id)
		var err error
		switch i % 10 {
		case 1: // random bytes
			junk := make([]byte, 1+i)
			_, _ = rand.Read(junk)
			err = r.pub.PublishRaw(ctx, id, junk, loadtest.InputHeaders(id))
			want[id] = "dead"
		case 3: // valid JSON, wrong key
			plain, _ := json.Marshal(map[string]any{"body": r.input(i)})
			err = r.pub.PublishRaw(ctx, id, wrong.EncryptMessage(plain, 1), loadtest.InputHeaders(id))
			want[id] = "dead"
		case 5: // right key, not JSON
			err = r.pub.PublishRaw(ctx, id, r.cipher.EncryptMessage([]byte("not json {"), 1), loadtest.InputHeaders(id))
			want[id] = "dead"
		case 7: // valid but oversized (1 MiB of padding the action ignores), protocol v2
			body := r.input(i).(map[string]any)
			body["padding"] = pad
			err = r.pub.Publish(ctx, id, body, 2)
			want[id] = "data"
		case 9: // invalid for the action: an id the API does not know, and a missing id
			body := map[string]any{"id": "no-such-patient"}
			if i%20 == 19 {
				body = map[string]any{}
			}
			err = r.pub.Publish(ctx, id, body, 1)
			want[id] = "error"
		default:
			err = r.pub.Publish(ctx, id, r.input(i), 1+i%2)
			want[id] = "data"
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := r.pub.Confirm(ctx); err != nil {
		t.Fatal(err)
	}
	r.start(r.env(prefetch, nil))
	r.waitSettled(ids, 60*time.Second)
	tally := r.expect(ids, func(id string) string { return want[id] }, 0)
	if tally.DeadLettered != 120 {
		t.Errorf("dead-lettered %d, want 120 (90 undecodable + 30 errored)", tally.DeadLettered)
	}
}
