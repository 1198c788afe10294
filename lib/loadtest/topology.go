// Package loadtest is the one RabbitMQ test rig of the project, and the
// harness that proves the worker under load and faults: a throwaway
// platform-like topology on a real RabbitMQ, an encrypting publisher, a
// collector that decrypts and matches every output to its input, a fake
// platform API, broker control through scripts/rabbitmq.sh, and a launcher
// that runs `connector run` as a separate process and reads its resource
// usage. cmd/loadbench, the fault suite and the worker's integration tests
// (tests with the tag integration) use it.
package loadtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DefaultAMQPURL is the shared test broker (scripts/rabbitmq.sh start).
const DefaultAMQPURL = "amqp://guest:guest@127.0.0.1:5672/"

// AMQPURL is $AMQP_URL or DefaultAMQPURL.
func AMQPURL() string {
	if u := os.Getenv("AMQP_URL"); u != "" {
		return u
	}
	return DefaultAMQPURL
}

// TopologyOptions shape the throwaway topology.
type TopologyOptions struct {
	Prefix string // name prefix (default "loadtest")
	// Quorum makes the input queue a quorum queue (the platform's choice on a
	// cluster); the other queues stay classic.
	Quorum bool
	// Replicas > 0 makes every queue a quorum queue, as on a cluster: the
	// input, the next step's (data, errors, rebound, snapshot, reply) and the
	// dead letters, each with this many members (x-quorum-initial-group-size;
	// the broker caps it at the cluster's size) and its leader on the node
	// declared through (x-queue-leader-locator client-local).
	Replicas int
	// DataMaxLength > 0 bounds the data queue with overflow reject-publish,
	// as the platform's flow control does: a full queue nacks publishes.
	DataMaxLength int
}

// Topology is one run's exchanges, queues and routing keys, all durable and
// uniquely named, like the platform's:
//   - Input: the step's queue, dead-lettering rejected messages to DLX;
//   - Exchange: where the worker publishes, bound to DataQueue, ErrorQueue,
//     ReboundQueue and SnapshotQueue by the four routing keys, and to
//     ReplyQueue by ReplyKey (a reply_to an input may carry);
//   - ReboundQueue dead-letters expired rebounds back into Input, as the
//     platform's rebound queue does;
//   - DeadQueue collects what DLX receives.
type Topology struct {
	URL                                                                       string
	Name                                                                      string
	Input, Exchange, DLX                                                      string
	DataKey, ErrorKey, ReboundKey, SnapshotKey, ReplyKey                      string
	DataQueue, ErrorQueue, ReboundQueue, SnapshotQueue, ReplyQueue, DeadQueue string
	quorum                                                                    bool
	replicas                                                                  int
}

// UniqueName is prefix plus 8 random hex digits.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// DeclareTopology declares a fresh topology on the broker at url.
func DeclareTopology(url string, o TopologyOptions) (*Topology, error) {
	if o.Prefix == "" {
		o.Prefix = "loadtest"
	}
	n := UniqueName(o.Prefix)
	t := &Topology{
		URL: url, Name: n,
		Input: n + ":messages", Exchange: n + ":exchange", DLX: n + ":dlx",
		DataKey: n + ":routing_key:message", ErrorKey: n + ":routing_key:error",
		ReboundKey: n + ":routing_key:rebound", SnapshotKey: n + ":routing_key:snapshot",
		ReplyKey:  n + ":reply_routing_key",
		DataQueue: n + ":data", ErrorQueue: n + ":errors", ReboundQueue: n + ":rebound",
		SnapshotQueue: n + ":snapshot", ReplyQueue: n + ":reply", DeadQueue: n + ":dead", quorum: o.Quorum,
		replicas: o.Replicas,
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		return nil, fmt.Errorf("dial broker: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	if err := t.declare(ch, o); err != nil {
		_ = t.Delete()
		return nil, err
	}
	return t, nil
}

func (t *Topology) declare(ch *amqp.Channel, o TopologyOptions) error {
	if err := ch.ExchangeDeclare(t.Exchange, "direct", true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange: %w", err)
	}
	if err := ch.ExchangeDeclare(t.DLX, "fanout", true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare dead-letter exchange: %w", err)
	}
	data := t.quorumArgs(amqp.Table{})
	if o.DataMaxLength > 0 {
		data["x-max-length"] = int64(o.DataMaxLength)
		data["x-overflow"] = "reject-publish"
	}
	rebound := t.quorumArgs(amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": t.Input})
	other := func() amqp.Table { return t.quorumArgs(amqp.Table{}) }
	queues := []struct {
		name, key string
		args      amqp.Table
		exchange  string
	}{
		{t.Input, "", t.inputArgs(), ""},
		{t.DataQueue, t.DataKey, data, t.Exchange},
		{t.ErrorQueue, t.ErrorKey, other(), t.Exchange},
		{t.ReboundQueue, t.ReboundKey, rebound, t.Exchange},
		{t.SnapshotQueue, t.SnapshotKey, other(), t.Exchange},
		{t.ReplyQueue, t.ReplyKey, other(), t.Exchange},
		{t.DeadQueue, "", other(), t.DLX},
	}
	for _, q := range queues {
		if _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args); err != nil {
			return fmt.Errorf("declare queue %s: %w", q.name, err)
		}
		if q.exchange != "" {
			if err := ch.QueueBind(q.name, q.key, q.exchange, false, nil); err != nil {
				return fmt.Errorf("bind queue %s: %w", q.name, err)
			}
		}
	}
	return nil
}

// inputArgs are the arguments of the input queue.
func (t *Topology) inputArgs() amqp.Table {
	args := t.quorumArgs(amqp.Table{"x-dead-letter-exchange": t.DLX})
	if t.quorum {
		args["x-queue-type"] = "quorum"
	}
	return args
}

// quorumArgs adds to args what makes a queue a replicated quorum queue
// (TopologyOptions.Replicas); without replicas it returns args as they are.
func (t *Topology) quorumArgs(args amqp.Table) amqp.Table {
	if t.replicas > 0 {
		args["x-queue-type"] = "quorum"
		args["x-quorum-initial-group-size"] = int64(t.replicas)
		args["x-queue-leader-locator"] = "client-local"
	}
	return args
}

// Queues are the names of every queue of the topology, the input first.
func (t *Topology) Queues() []string {
	return []string{t.Input, t.DataQueue, t.ErrorQueue, t.ReboundQueue, t.SnapshotQueue, t.ReplyQueue, t.DeadQueue}
}

// DeleteInput deletes the input queue (a step whose queue is gone).
func (t *Topology) DeleteInput() error {
	return t.with(func(ch *amqp.Channel) error {
		_, err := ch.QueueDelete(t.Input, false, false, false)
		return err
	})
}

// DeclareInput declares the input queue again.
func (t *Topology) DeclareInput() error {
	return t.with(func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclare(t.Input, true, false, false, false, t.inputArgs())
		return err
	})
}

// Inspector reads a topology's queues on a connection of its own.
type Inspector struct {
	conn *amqp.Connection
	ch   *amqp.Channel
}

// Inspect connects an Inspector.
func (t *Topology) Inspect() (*Inspector, error) {
	conn, err := amqp.Dial(t.URL)
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &Inspector{conn: conn, ch: ch}, nil
}

// Get takes one message from a queue, if there is one.
func (i *Inspector) Get(queue string) (amqp.Delivery, bool, error) {
	return i.ch.Get(queue, true)
}

// Close closes the Inspector's connection.
func (i *Inspector) Close() error { return i.conn.Close() }

// with runs f on a channel of a connection of its own.
func (t *Topology) with(f func(*amqp.Channel) error) error {
	conn, err := amqp.Dial(t.URL)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	return f(ch)
}

// Delete removes every queue and exchange of the topology (best effort,
// bounded: it gives up after a few attempts while the broker is away).
func (t *Topology) Delete() error {
	var err error
	for i := 0; i < 5; i++ {
		if err = t.delete(); err == nil {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return err
}

func (t *Topology) delete() error {
	return t.with(func(ch *amqp.Channel) error {
		var errs []error
		for _, q := range t.Queues() {
			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				errs = append(errs, err)
			}
		}
		for _, x := range []string{t.Exchange, t.DLX} {
			if err := ch.ExchangeDelete(x, false, false); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}

// Depth is the number of ready messages in a queue and its consumer count.
func (t *Topology) Depth(queue string) (messages, consumers int, err error) {
	err = t.with(func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		if err != nil {
			return fmt.Errorf("inspect queue %s: %w", queue, err)
		}
		messages, consumers = q.Messages, q.Consumers
		return nil
	})
	return messages, consumers, err
}
