//go:build integration

package loadtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/loadtest"
	"github.com/fitbitplus/connector/lib/sandbox"
	amqp "github.com/rabbitmq/amqp091-go"
)

// The cluster suite: a step's workers on the three-node cluster of
// scripts/rabbitmq.sh, every queue a quorum queue with a member on each
// node, and the node one worker is connected to killed mid-stream. It runs
// when the cluster answers on 127.0.0.1:5701-5703, or when
// RABBITMQ_CLUSTER_TEST=1 lets it start the cluster (stopped at the end).

var cluster struct {
	once    sync.Once
	c       loadtest.Cluster
	started bool
	skip    string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster.started {
		if err := cluster.c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// theCluster is the running cluster; it skips the test when there is none
// and none may or can be started.
func theCluster(t *testing.T) loadtest.Cluster {
	t.Helper()
	cluster.once.Do(func() {
		if !loadtest.ClusterAnswers() && os.Getenv("RABBITMQ_CLUSTER_TEST") != "1" {
			cluster.skip = "no RabbitMQ cluster answers on 127.0.0.1:5701-5703: start one with " +
				"scripts/rabbitmq.sh cluster start, or set RABBITMQ_CLUSTER_TEST=1 to let the test start it"
			return
		}
		var err error
		cluster.c, cluster.started, err = loadtest.StartCluster()
		if err != nil {
			cluster.skip = fmt.Sprintf("the RabbitMQ cluster cannot be started: %v", err)
		}
	})
	if cluster.skip != "" {
		t.Skip(cluster.skip)
	}
	return cluster.c
}

// clusterInputs is the length of each stream: several thousand inputs.
const clusterInputs = 4000

// TestClusterNodeLost runs two workers of one step, connected to different
// nodes, on one stream, and kills the node of one of them mid-stream. That
// worker reconnects in process through a balancer that reaches any live
// node, or exits non-zero and is restarted against a live node; then the
// node comes back. Every input has exactly one outcome, and the only
// duplicates (outputs, and metrics written) are of inputs the lost worker
// had in flight: at most prefetch.
//
// The lost worker comes back once the queues have new leaders, as the
// platform's balancer and scheduler take a while to notice a lost node: on
// RabbitMQ 3.10 a publishing channel opened in between can be nacked until
// the lost node returns (TestClusterPublishDuringFailover).
func TestClusterNodeLost(t *testing.T) {
	c := theCluster(t)
	for _, tc := range []struct {
		action   string
		balancer bool // reconnect through the balancer, or exit and be restarted
		victim   int
	}{
		{loadtest.ActionFetchPatient, true, 2},
		{loadtest.ActionCreateMetric, false, 3},
		{loadtest.ActionCreateMetric, true, 1},
		{loadtest.ActionFetchPatient, false, 2},
	} {
		path := "restart"
		if tc.balancer {
			path = "balancer"
		}
		t.Run(fmt.Sprintf("%s_%s_node%d", tc.action, path, tc.victim), func(t *testing.T) {
			nodeLost(t, c, tc.action, tc.balancer, tc.victim)
		})
	}
}

func nodeLost(t *testing.T, c loadtest.Cluster, action string, viaBalancer bool, victim int) {
	// Worker A is on the victim, where every queue's leader starts; worker
	// B on the next node; the publisher and the collector on the third.
	other, harness := victim%3+1, (victim+1)%3+1
	writes := &metricWrites{at: map[int64][]time.Time{}}
	r := newRig(t, rigOptions{url: c.URLs[victim-1], clientURL: c.URLs[harness-1], wrap: writes.wrap,
		topology: loadtest.TopologyOptions{Replicas: 3},
		sandbox:  sandbox.Options{Faults: sandbox.Faults{Latency: 20 * time.Millisecond}}})
	checkReplicas(t, c, harness, r.top, c.NodeName(victim))

	input, err := loadtest.Inputs(action, r.sb.Seeded())
	if err != nil {
		t.Fatal(err)
	}
	ids := r.publishInputs("lost", clusterInputs, input)
	env := func(container, url string, extra map[string]string) map[string]string {
		e := map[string]string{"ELASTICIO_FUNCTION": action, "ELASTICIO_CONTAINER_ID": container, "ELASTICIO_AMQP_URI": url}
		for k, v := range extra {
			e[k] = v
		}
		return r.env(prefetch, e)
	}
	failedOver := make(chan struct{}) // closed once every queue has a new leader
	var failOnce sync.Once
	endFailover := func() { failOnce.Do(func() { close(failedOver) }) }
	var a *loadtest.Worker
	var sup *supervisor
	var bal *balancer
	if viaBalancer {
		bal = newBalancer(t, c.URLs[victim-1], c.URLs[other-1], c.URLs[harness-1])
		// Ride out the failover instead of exiting.
		a = r.start(env("worker-a", bal.URL(), map[string]string{
			"ELASTICIO_AMQP_RECONNECT_ATTEMPTS": "100", "ELASTICIO_AMQP_RECONNECT_TIMEOUT": "200"}))
	} else {
		// The default reconnect settings give up within a second: the
		// worker exits, and is restarted against a node that is up.
		sup = r.superviseWith(func(n int) map[string]string {
			if n == 0 {
				return env("worker-a", c.URLs[victim-1], nil)
			}
			<-failedOver
			return env(fmt.Sprintf("worker-a-%d", n), c.URLs[other-1], nil)
		})
	}
	t.Cleanup(endFailover) // before the supervisor's cleanup, which waits for a restart in progress
	b := r.start(env("worker-b", c.URLs[other-1], nil))

	r.waitCount(clusterInputs/5, 60*time.Second)
	if bal != nil {
		bal.refuse(true)
	}
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	atKill := r.col.Settled()
	revived := false
	t.Cleanup(func() {
		if !revived {
			if err := c.Revive(victim); err != nil {
				t.Error(err)
			}
		}
	})
	if atKill >= clusterInputs {
		t.Fatal("the stream ended before the node was killed; the case proves nothing")
	}
	// The stream goes on without the node, and every queue has a new leader.
	r.waitCount(atKill+clusterInputs/10, 60*time.Second)
	leaders := waitLeaders(t, c, harness, r.top, c.NodeName(victim))
	failover := time.Since(killed)
	endFailover()
	if bal != nil {
		bal.refuse(false)
	}
	// The lost worker is back at work: it publishes outputs again.
	back := waitBackAtWork(t, r, ids, killed)

	if err := c.Revive(victim); err != nil {
		t.Fatal(err)
	}
	revived = true
	r.waitSettled(ids, 120*time.Second)
	waitOnline(t, c, harness, r.top)
	tally := r.expect(ids, allData, prefetch)

	// Only an input whose output worker A published before its node went
	// away may be output twice.
	dups := map[string]bool{}
	for _, id := range ids {
		rec := r.col.Record(id)
		if rec.Data < 2 {
			continue
		}
		dups[id] = true
		if !rec.FirstEnd.Before(killed) || rec.Containers[0] != "worker-a" {
			t.Errorf("input %s output %d times (by %v), its first at %v: not in flight on the node lost at %v",
				id, rec.Data, rec.Containers, rec.FirstEnd.Format(time.StampMilli), killed.Format(time.StampMilli))
		}
	}
	repeated := 0
	if action == loadtest.ActionCreateMetric {
		repeated = checkMetricsOnce(t, r, ids, input, writes, dups, killed)
	}
	if viaBalancer {
		if a.Exited() {
			t.Errorf("the worker behind the balancer exited; it should have reconnected in process")
		}
		if n := bal.dialedTo(t, c.URLs[other-1]); n < 2 {
			t.Errorf("the balancer made %d connections to a live node after the kill, want the read and the write one", n)
		}
	} else {
		sup.mu.Lock()
		exits, restarts := slices.Clone(sup.exits), sup.restarts
		sup.mu.Unlock()
		if restarts < 1 || exits[0] == 0 {
			t.Errorf("the worker on the lost node: restarts %d, exit codes %v; want an exit non-zero and a restart", restarts, exits)
		}
	}
	if b.Exited() {
		t.Error("worker B, whose node stayed up, exited")
	}
	t.Logf("node %d killed after %d of %d inputs settled; queues failed over in %v to %v; the lost worker "+
		"published again %v after the kill; duplicated outputs %d, repeated metric writes %d (bound %d)", victim, atKill,
		len(ids), failover.Round(time.Millisecond), leaders, back.Round(time.Millisecond), tally.Duplicates, repeated, prefetch)
}

// waitBackAtWork waits (bounded) until worker A (container worker-a, or
// worker-a-N once restarted) has published an output after killed, and
// returns how long after it did.
func waitBackAtWork(t *testing.T, r *rig, ids []string, killed time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		settled := r.col.Settled()
		for _, id := range ids {
			rec := r.col.Record(id)
			if rec.Data > 0 && rec.FirstEnd.After(killed) && strings.HasPrefix(rec.Containers[0], "worker-a") {
				return rec.FirstEnd.Sub(killed)
			}
		}
		if settled == len(ids) {
			t.Fatal("the stream ended before the lost worker was back at work; the case proves nothing")
		}
		if time.Now().After(deadline) {
			t.Fatal("the lost worker published nothing within 60 s of the failover")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterUnconfirmedPublish holds back, in the balancer, everything the
// worker sends on its write connection, so that the outputs of the inputs
// in flight never reach the broker and are never confirmed; then it kills
// the worker's node. The worker must not take those publishes as done: the
// inputs stay unacked, the broker redelivers them, and each ends with an
// output.
func TestClusterUnconfirmedPublish(t *testing.T) {
	c := theCluster(t)
	const victim, harness = 1, 2
	r := newRig(t, rigOptions{url: c.URLs[victim-1], clientURL: c.URLs[harness-1],
		topology: loadtest.TopologyOptions{Replicas: 3}})
	ids := r.publish("unconfirmed", 500)
	bal := newBalancer(t, c.URLs[victim-1], c.URLs[harness-1], c.URLs[2])
	w := r.start(r.env(prefetch, map[string]string{"ELASTICIO_AMQP_URI": bal.URL(),
		"ELASTICIO_AMQP_RECONNECT_ATTEMPTS": "100", "ELASTICIO_AMQP_RECONNECT_TIMEOUT": "200"}))
	r.waitCount(100, 60*time.Second)
	if n := bal.hold("-write"); n != 1 {
		t.Fatalf("holding %d write connections, want the worker's one", n)
	}
	// The worker publishes the outputs of the prefetch inputs it holds, and
	// gets no confirm: it takes no more inputs.
	deadline := time.Now().Add(30 * time.Second)
	for bal.heldPublishes() < prefetch && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	held := bal.heldPublishes()
	if held < prefetch {
		t.Fatalf("only %d publishes held back within 30 s, want the prefetch's %d", held, prefetch)
	}
	bal.refuse(true) // until the queues have failed over (see TestClusterNodeLost)
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Revive(victim); err != nil {
			t.Error(err)
		}
	})
	atKill := r.col.Settled()
	waitLeaders(t, c, harness, r.top, c.NodeName(victim))
	bal.refuse(false)
	r.waitSettled(ids, 90*time.Second)
	tally := r.expect(ids, allData, prefetch)
	if held > prefetch {
		t.Errorf("%d publishes held back: the worker took more than its prefetch (%d) of inputs without a confirm", held, prefetch)
	}
	if w.Exited() {
		t.Error("the worker exited; it should have reconnected in process")
	}
	t.Logf("%d publishes held back unconfirmed; node %d killed with %d of %d inputs settled; duplicates %d",
		held, victim, atKill, len(ids), tally.Duplicates)
}

// checkReplicas checks, on node n, that every queue of top is a quorum
// queue with its three members online and its leader on leader.
func checkReplicas(t *testing.T, c loadtest.Cluster, n int, top *loadtest.Topology, leader string) {
	t.Helper()
	qs, err := c.Queues(n)
	if err != nil {
		t.Fatal(err)
	}
	all := []string{c.NodeName(1), c.NodeName(2), c.NodeName(3)}
	for _, name := range top.Queues() {
		q := qs[name]
		if q.Type != "quorum" || !sameNodes(q.Members, all) || !sameNodes(q.Online, all) || q.Leader != leader {
			t.Errorf("queue %s: type %q, leader %s, members %v, online %v; want a quorum queue on all three nodes, led by %s",
				name, q.Type, q.Leader, q.Members, q.Online, leader)
		}
	}
}

// waitLeaders waits (bounded) until node n reports, for every queue of top,
// a leader other than lost, and returns the leaders by node.
func waitLeaders(t *testing.T, c loadtest.Cluster, n int, top *loadtest.Topology, lost string) map[string]int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		qs, err := c.Queues(n)
		led := map[string]int{}
		moved := err == nil
		for _, name := range top.Queues() {
			q := qs[name]
			led[q.Leader]++
			moved = moved && q.Leader != "" && q.Leader != lost
		}
		if moved {
			return led
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queues' leaders did not move off %s within 60 s: %v (%v)", lost, led, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitOnline waits (bounded) until node n reports every queue of top with
// its three members online: the revived node has rejoined each.
func waitOnline(t *testing.T, c loadtest.Cluster, n int, top *loadtest.Topology) {
	t.Helper()
	all := []string{c.NodeName(1), c.NodeName(2), c.NodeName(3)}
	deadline := time.Now().Add(60 * time.Second)
	for {
		qs, err := c.Queues(n)
		ok := err == nil
		for _, name := range top.Queues() {
			ok = ok && sameNodes(qs[name].Online, all)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queues' members are not all online again within 60 s: %v", qs[top.Input])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sameNodes(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// metricWrites records when the sandbox created each metric (answered a
// create 2xx), by its occurred_at in Unix ms: one distinct value per input.
type metricWrites struct {
	mu sync.Mutex
	at map[int64][]time.Time
}

func (m *metricWrites) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/patient_health_metric") {
			h.ServeHTTP(w, req)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, req)
		var doc struct {
			Data struct {
				Attributes struct {
					OccurredAt time.Time `json:"occurred_at"`
				} `json:"attributes"`
			} `json:"data"`
		}
		if sw.status/100 == 2 && json.Unmarshal(body, &doc) == nil {
			ms := doc.Data.Attributes.OccurredAt.UnixMilli()
			m.mu.Lock()
			m.at[ms] = append(m.at[ms], time.Now())
			m.mu.Unlock()
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// checkMetricsOnce lists the sandbox's metrics in process and checks that
// every input's metric exists once, or twice when the input was being
// written when the node was lost: its first write came before the kill,
// and there are at most prefetch such inputs. Every input output twice
// must be one of them. input made the inputs. It returns how many were
// written twice.
func checkMetricsOnce(t *testing.T, r *rig, ids []string, input func(int) any, writes *metricWrites, dups map[string]bool, killed time.Time) int {
	t.Helper()
	stored := listMetrics(t, r.sb)
	writes.mu.Lock()
	defer writes.mu.Unlock()
	repeated := 0
	for i, id := range ids {
		ms := occurredAt(t, input(i))
		n, at := stored[ms], writes.at[ms]
		switch {
		case n != len(at):
			t.Errorf("input %s: %d metrics stored, %d creates answered", id, n, len(at))
		case n == 1:
			if dups[id] {
				t.Errorf("input %s was output twice but written once", id)
			}
		case n == 2 && at[0].Before(killed):
			repeated++
		default:
			t.Errorf("input %s: %d metrics stored, first written at %v (node lost at %v)", id, n, at, killed)
		}
	}
	if repeated > prefetch {
		t.Errorf("%d inputs written twice, more than the lost worker's prefetch (%d)", repeated, prefetch)
	}
	return repeated
}

// occurredAt is the occurred_at (Unix ms) of a createPatientHealthMetric
// input made by loadtest.Inputs.
func occurredAt(t *testing.T, body any) int64 {
	t.Helper()
	b, _ := json.Marshal(body)
	var in struct {
		RequestBody struct {
			Data struct {
				Attributes struct {
					OccurredAt time.Time `json:"occurred_at"`
				} `json:"attributes"`
			} `json:"data"`
		} `json:"requestBody"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	return in.RequestBody.Data.Attributes.OccurredAt.UnixMilli()
}

// listMetrics counts the metrics of every seeded patient by occurred_at
// (Unix ms), asking the sandbox's handler in process.
func listMetrics(t *testing.T, sb *sandbox.Sandbox) map[int64]int {
	t.Helper()
	h := sb.Handler()
	do := func(method, target, token, body string) []byte {
		req := httptest.NewRequest(method, "http://sandbox.test"+strings.TrimPrefix(target, "http://sandbox.test"), strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", sandbox.MediaType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
	var tok struct {
		Data struct {
			Attributes struct {
				AccessToken string `json:"access_token"`
			} `json:"attributes"`
		} `json:"data"`
	}
	grant := fmt.Sprintf(`{"data":{"type":"token","attributes":{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}}}`,
		loadtest.ClientID, loadtest.ClientSecret)
	if err := json.Unmarshal(do(http.MethodPost, sandbox.BasePath+"/oauth/token", "", grant), &tok); err != nil {
		t.Fatal(err)
	}
	counts := map[int64]int{}
	for _, p := range sb.Seeded().PatientIDs {
		next := sandbox.BasePath + "/patient_health_metric?filter[patient]=" + p + "&page[limit]=100"
		for next != "" {
			var page struct {
				Data []struct {
					Attributes struct {
						OccurredAt time.Time `json:"occurred_at"`
					} `json:"attributes"`
				} `json:"data"`
				Links struct {
					Next string `json:"next"`
				} `json:"links"`
			}
			if err := json.Unmarshal(do(http.MethodGet, next, tok.Data.Attributes.AccessToken, ""), &page); err != nil {
				t.Fatal(err)
			}
			for _, m := range page.Data {
				counts[m.Attributes.OccurredAt.UnixMilli()]++
			}
			next = page.Links.Next
		}
	}
	return counts
}

// TestClusterPublishDuringFailover: a worker reconnects while a quorum
// queue it publishes to has no leader yet. On RabbitMQ 3.10 that channel's
// first publish to the queue is nacked, and so is every later one on it,
// until the lost leader's node returns, although the queue has elected a new
// leader and a fresh channel publishes to it: the worker retries a nacked
// publish on a fresh channel, so it publishes again. Here the input queue is a classic queue on node 2, unaffected;
// the data queue is led from node 1 and loses its majority when nodes 3 and
// 1 are killed; node 3 comes back, the data queue elects a leader, and the
// worker should publish again.
func TestClusterPublishDuringFailover(t *testing.T) {
	c := theCluster(t)
	r := newRig(t, rigOptions{url: c.URLs[1], noCollect: true,
		sandbox: sandbox.Options{Faults: sandbox.Faults{Latency: 20 * time.Millisecond}}})
	// The data queue again, as a quorum queue led from node 1.
	if err := withChannel(c.URLs[0], func(ch *amqp.Channel) error {
		if _, err := ch.QueueDelete(r.top.DataQueue, false, false, false); err != nil {
			return err
		}
		args := amqp.Table{"x-queue-type": "quorum", "x-quorum-initial-group-size": int64(3), "x-queue-leader-locator": "client-local"}
		if _, err := ch.QueueDeclare(r.top.DataQueue, true, false, false, false, args); err != nil {
			return err
		}
		return ch.QueueBind(r.top.DataQueue, r.top.DataKey, r.top.Exchange, false, nil)
	}); err != nil {
		t.Fatal(err)
	}
	r.collect()
	ids := r.publish("failover", 400)
	bal := newBalancer(t, c.URLs[0], c.URLs[1])
	w := r.start(r.env(prefetch, map[string]string{"ELASTICIO_AMQP_URI": bal.URL(),
		"ELASTICIO_AMQP_RECONNECT_ATTEMPTS": "100", "ELASTICIO_AMQP_RECONNECT_TIMEOUT": "200",
		"ELASTICIO_AMQP_PUBLISH_MAX_RETRY_DELAY": "1000"}))
	r.waitCount(50, 60*time.Second)
	down := map[int]bool{}
	t.Cleanup(func() {
		for _, n := range []int{3, 1} {
			if down[n] {
				if err := c.Revive(n); err != nil {
					t.Error(err)
				}
			}
		}
	})
	for _, n := range []int{3, 1} {
		if err := c.Kill(n); err != nil {
			t.Fatal(err)
		}
		down[n] = true
	}
	// The worker reconnects to node 2; the data queue has no majority.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(w.Output(), "broker nacked the message") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Revive(3); err != nil {
		t.Fatal(err)
	}
	down[3] = false
	// A fresh channel publishes to the data queue again.
	deadline = time.Now().Add(60 * time.Second)
	for {
		err := withChannel(c.URLs[1], func(ch *amqp.Channel) error {
			if err := ch.Confirm(false); err != nil {
				return err
			}
			dc, err := ch.PublishWithDeferredConfirm(r.top.Exchange, r.top.DataKey, false, false, amqp.Publishing{
				Headers: amqp.Table{"parentMessageId": "control", "messageId": "control-1"},
				Body:    r.cipher.EncryptMessage([]byte(`{"body":{}}`), 1)})
			if err != nil {
				return err
			}
			if !dc.Wait() {
				return fmt.Errorf("nacked")
			}
			return nil
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a fresh channel cannot publish to the data queue within 60 s of node 3's return: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	atControl := r.col.Settled()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.col.WaitSettled(ctx, ids, nil); err != nil {
		t.Errorf("the data queue takes publishes on a fresh channel, but the worker did not publish its outputs within 30 s "+
			"(settled %d at the control publish, %d now, of %d; %d nacks logged): %v", atControl, r.col.Settled(),
			len(ids), strings.Count(w.Output(), "broker nacked the message"), err)
	}
}

// withChannel runs f on a channel of a connection of its own to url.
func withChannel(url string, f func(*amqp.Channel) error) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	return f(ch)
}

// TestClusterBenchSmoke runs the benchmark as `loadbench --cluster` does,
// small: two workers on different nodes, every queue replicated.
func TestClusterBenchSmoke(t *testing.T) {
	c := theCluster(t)
	r, err := loadtest.Bench(context.Background(), loadtest.BenchConfig{NodeURLs: c.URLs, Replicas: 3,
		Action: loadtest.ActionFetchPatient, N: 300, Prefetch: 10, Workers: 2, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster: %.0f msg/s, p50 %.1f ms, p99 %.1f ms", r.MsgsPerSec, r.P50Ms, r.P99Ms)
	if r.OK != 300 || r.Lost != 0 || r.Duplicates != 0 || r.Nodes != 3 || r.Replicas != 3 || r.MsgsPerSec <= 0 || r.P99Ms < r.P50Ms {
		t.Errorf("result %+v", r)
	}
}
