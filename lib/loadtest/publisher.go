package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fitbitplus/connector/lib/sailor"
	"github.com/fitbitplus/connector/lib/sandbox"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Publisher publishes encrypted inputs to a topology's input queue on a
// confirm channel, as the previous step of a flow would, and remembers when
// each input was sent.
type Publisher struct {
	top        *Topology
	cipher     *sailor.Cipher
	persistent bool
	conn       *amqp.Connection
	ch         *amqp.Channel

	// Objects, when set, keeps every input's body: Publish sends a
	// lightweight message ({} and the object's id) instead.
	Objects *sandbox.ObjectStore

	mu      sync.Mutex
	sent    map[string]time.Time
	pending []*amqp.DeferredConfirmation
}

// NewPublisher connects a publisher. persistent sends deliveryMode 2 (needed
// for inputs to survive a broker restart).
func NewPublisher(top *Topology, c *sailor.Cipher, persistent bool) (*Publisher, error) {
	conn, err := amqp.Dial(top.URL)
	if err != nil {
		return nil, fmt.Errorf("publisher: dial: %w", err)
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("publisher: confirm channel: %w", err)
	}
	return &Publisher{top: top, cipher: c, persistent: persistent, conn: conn, ch: ch, sent: map[string]time.Time{}}, nil
}

// Close closes the publisher's connection.
func (p *Publisher) Close() error { return p.conn.Close() }

// InputHeaders are the AMQP headers of input id, as a platform step sets them.
func InputHeaders(id string) amqp.Table {
	return amqp.Table{"execId": "loadtest-exec", "taskId": "loadtest-flow", "workspaceId": "loadtest-ws",
		"userId": "loadtest-user", "threadId": "thread-" + id, "stepId": "step_0", "messageId": id,
		"parentMessageId": "loadtest-parent"}
}

// Publish encrypts {"headers":{}, "body": body} for protocol version (1 or
// 2) and publishes it as input id. It does not wait for the confirm; Confirm
// does.
func (p *Publisher) Publish(ctx context.Context, id string, body any, version int) error {
	env := map[string]any{"headers": map[string]any{}, "body": body}
	if p.Objects != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode input: %w", err)
		}
		env = map[string]any{"headers": map[string]any{"x-ipaas-object-storage-id": p.Objects.Put(p.cipher.Encrypt(b))},
			"body": map[string]any{}}
	}
	plain, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode input: %w", err)
	}
	h := InputHeaders(id)
	if version >= 2 {
		h["protocolVersion"] = int64(version)
	}
	return p.PublishRaw(ctx, id, p.cipher.EncryptMessage(plain, version), h)
}

// PublishRaw publishes body as is with headers (garbage, wrongly encrypted
// or oversized inputs).
func (p *Publisher) PublishRaw(ctx context.Context, id string, body []byte, headers amqp.Table) error {
	mode := amqp.Transient
	if p.persistent {
		mode = amqp.Persistent
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, "", p.top.Input, false, false, amqp.Publishing{
		ContentType: "application/json", ContentEncoding: "utf8", DeliveryMode: mode, Headers: headers, Body: body,
	})
	if err != nil {
		return fmt.Errorf("publish input %s: %w", id, err)
	}
	p.sent[id] = time.Now()
	p.pending = append(p.pending, dc)
	return nil
}

// Confirm waits for the broker's confirms of everything published so far;
// a nack is an error.
func (p *Publisher) Confirm(ctx context.Context) error {
	p.mu.Lock()
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	nacked := 0
	for _, dc := range pending {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("wait for confirms: %w", err)
		}
		if !ok {
			nacked++
		}
	}
	if nacked > 0 {
		return fmt.Errorf("broker nacked %d inputs", nacked)
	}
	return nil
}

// SentAt is when input id was published.
func (p *Publisher) SentAt(id string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.sent[id]
	return t, ok
}

// Sent is the number of inputs published.
func (p *Publisher) Sent() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

var errTimeout = errors.New("timed out")
