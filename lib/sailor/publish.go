package sailor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// publisher sends one message to the exchange and returns nil once the broker
// confirmed it. The worker's retry policy sits on top (publish).
type publisher interface {
	publishOnce(ctx context.Context, routingKey string, msg amqp.Publishing) error
}

var (
	// errUnpublishable marks a message that no retry can publish: the
	// protocol cannot carry its routing key or headers, or it is too large.
	errUnpublishable = errors.New("the message cannot be published")
	// errAbandoned says the input's delivery channel closed before its
	// event was published: the broker redelivers the input, so the event is
	// left to the copy.
	errAbandoned    = errors.New("the input's channel closed before this event was published; the broker redelivers the input")
	errNacked       = errors.New("broker nacked the message")
	errNotConnected = errors.New("the write connection is being reopened")
)

// publish sends msg and waits for the broker's confirm. What may succeed
// later is retried after min(delay·2^i, max) with header retry=i, forever
// unless ELASTICIO_AMQP_PUBLISH_RETRY_ATTEMPTS limits the attempts: a nack
// (a full next queue), a closed channel or connection (being reopened). An
// unpublishable message is not retried. Before each attempt live tells
// whether the input can still be settled; once it cannot, the publish is
// abandoned (errAbandoned).
func (w *worker) publish(ctx context.Context, routingKey string, msg amqp.Publishing, log *slog.Logger, live func() bool) error {
	s := &w.settings
	for i := 0; ; i++ {
		if !live() {
			return errAbandoned
		}
		if i > 0 {
			msg.Headers = maps.Clone(msg.Headers)
			if msg.Headers == nil {
				msg.Headers = amqp.Table{}
			}
			msg.Headers["retry"] = int64(i)
		}
		err := w.pub.publishOnce(ctx, routingKey, msg)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errUnpublishable):
			return err
		case ctx.Err() != nil:
			return fmt.Errorf("publish to %q: %w", routingKey, ctx.Err())
		case s.PublishRetryAttempts > 0 && i+1 >= s.PublishRetryAttempts:
			return fmt.Errorf("publish to %q after %d attempts: %w", routingKey, i+1, err)
		}
		delay := backoff(s.PublishRetryDelay, s.PublishMaxRetryDelay, i+1)
		log.Warn("publish failed; retrying", "routingKey", routingKey, "retry", i+1, "delayMs", delay.Milliseconds(), "err", err)
		if err := sleepCtx(ctx, delay); err != nil {
			return fmt.Errorf("publish to %q: %w", routingKey, err)
		}
	}
}

// backoff is min(base·2^i, max).
func backoff(base, max time.Duration, i int) time.Duration {
	if i > 40 {
		return max
	}
	d := base << uint(i)
	if d <= 0 || d > max {
		return max
	}
	return d
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

// properties are those of everything the worker creates (rebounds excepted).
func (w *worker) properties(headers amqp.Table, body []byte) amqp.Publishing {
	mode := amqp.Transient
	if w.settings.PersistentMessages {
		mode = amqp.Persistent
	}
	return amqp.Publishing{
		ContentType:     "application/json",
		ContentEncoding: "utf8",
		DeliveryMode:    mode,
		Headers:         headers,
		Body:            body,
	}
}

// amqpPublisher publishes on the confirm channel the link hands it (none
// while the write side is being reopened).
type amqpPublisher struct {
	exchange string
	mu       sync.Mutex
	ch       *amqp.Channel
	frameMax int
}

// use sets the confirm channel and the connection's negotiated frame size.
func (p *amqpPublisher) use(ch *amqp.Channel, frameMax int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ch, p.frameMax = ch, frameMax
}

func (p *amqpPublisher) publishOnce(ctx context.Context, key string, msg amqp.Publishing) error {
	p.mu.Lock()
	ch, frameMax := p.ch, p.frameMax
	p.mu.Unlock()
	if err := publishable(key, msg, frameMax); err != nil {
		return err
	}
	if ch == nil || ch.IsClosed() {
		return errNotConnected
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, p.exchange, key, true, false, msg)
	if err != nil {
		return err
	}
	acked, err := dc.WaitContext(ctx)
	switch {
	case err != nil:
		return err
	case !acked && ch.IsClosed():
		return fmt.Errorf("the channel closed before the broker confirmed the message: %w", amqp.ErrClosed)
	case !acked:
		// A quorum queue can nack every publish of a channel opened while
		// it had no leader, even once it has one (RabbitMQ 3.10): retry on a
		// fresh channel, which the link opens when this one closes.
		p.retire(ch)
		return errNacked
	}
	return nil
}

// retire closes ch, unless it has been replaced already.
func (p *amqpPublisher) retire(ch *amqp.Channel) {
	p.mu.Lock()
	current := p.ch == ch
	if current {
		p.ch = nil
	}
	p.mu.Unlock()
	if current {
		_ = ch.Close()
	}
}

// publishable refuses what the AMQP client cannot encode or the broker
// cannot take, before a frame is written (a failed frame write closes the
// whole connection): routing keys and header names are short strings
// (255 bytes), header values must be of AMQP field types, and the header
// frame must fit the negotiated frame size.
func publishable(key string, msg amqp.Publishing, frameMax int) error {
	if len(key) > 255 {
		return fmt.Errorf("%w: its routing key is %d bytes long (at most 255)", errUnpublishable, len(key))
	}
	for k := range msg.Headers {
		if len(k) > 255 {
			return fmt.Errorf("%w: a header name is %d bytes long (at most 255)", errUnpublishable, len(k))
		}
	}
	if err := msg.Headers.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUnpublishable, err)
	}
	size := fieldSize(msg.Headers) + 64 // the header frame: headers, then fixed fields
	for _, v := range []string{msg.ContentType, msg.ContentEncoding, msg.CorrelationId, msg.ReplyTo,
		msg.Expiration, msg.MessageId, msg.Type, msg.UserId, msg.AppId} {
		if len(v) > 255 {
			return fmt.Errorf("%w: a property is %d bytes long (at most 255)", errUnpublishable, len(v))
		}
		size += 1 + len(v)
	}
	if frameMax > 0 && size > frameMax {
		return fmt.Errorf("%w: its headers take about %d bytes, over the frame size %d", errUnpublishable, size, frameMax)
	}
	return nil
}

// fieldSize is an upper bound of the encoded size of an AMQP field value.
func fieldSize(v any) int {
	switch t := v.(type) {
	case string:
		return 5 + len(t)
	case []byte:
		return 5 + len(t)
	case amqp.Table:
		n := 5
		for k, x := range t {
			n += 1 + len(k) + fieldSize(x)
		}
		return n
	case []any:
		n := 5
		for _, x := range t {
			n += fieldSize(x)
		}
		return n
	}
	return 9 // numbers, booleans, times, decimals, nil
}
