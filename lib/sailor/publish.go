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

// publisher sends one message to the exchange and reports whether the broker
// confirmed (acked) it. The worker's retry policy sits on top (publish). It
// keeps no reference to msg.Body once publishOnce returns: the caller reuses
// the buffer.
type publisher interface {
	publishOnce(ctx context.Context, routingKey string, msg amqp.Publishing) (acked bool, err error)
	close() error
}

// publish sends msg and waits for the broker's confirm. A nack or a failed
// attempt is retried after min(delay·2^i, max) with header retry=i, forever
// unless ELASTICIO_AMQP_PUBLISH_RETRY_ATTEMPTS limits the attempts. It gives
// up only when ctx ends.
func (w *worker) publish(ctx context.Context, routingKey string, msg amqp.Publishing, log *slog.Logger) error {
	s := &w.settings
	for i := 0; ; i++ {
		if i > 0 {
			h := maps.Clone(msg.Headers)
			if h == nil {
				h = amqp.Table{}
			}
			h["retry"] = int64(i)
			msg.Headers = h
		}
		acked, err := w.pub.publishOnce(ctx, routingKey, msg)
		if err == nil && acked {
			return nil
		}
		if err == nil {
			err = errors.New("broker nacked the message")
		}
		if ctx.Err() != nil {
			return fmt.Errorf("publish to %q: %w", routingKey, ctx.Err())
		}
		if s.PublishRetryAttempts > 0 && i+1 >= s.PublishRetryAttempts {
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

// amqpPublisher publishes on one confirm channel of the write connection. A
// lost channel or connection is reopened on the next attempt.
type amqpPublisher struct {
	mu       sync.Mutex
	dial     func() (*amqp.Connection, error)
	exchange string
	conn     *amqp.Connection
	ch       *amqp.Channel
	log      *slog.Logger
}

func (p *amqpPublisher) channel() (*amqp.Channel, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch != nil && !p.ch.IsClosed() {
		return p.ch, nil
	}
	if p.conn == nil || p.conn.IsClosed() {
		if p.conn != nil {
			p.log.Warn("write connection lost; reconnecting")
		}
		conn, err := p.dial()
		if err != nil {
			return nil, fmt.Errorf("open write connection: %w", err)
		}
		p.conn = conn
	}
	ch, err := p.conn.Channel()
	if err != nil {
		_ = p.conn.Close()
		p.conn = nil
		return nil, fmt.Errorf("open publish channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("confirm mode: %w", err)
	}
	p.ch = ch
	return ch, nil
}

func (p *amqpPublisher) publishOnce(ctx context.Context, key string, msg amqp.Publishing) (bool, error) {
	ch, err := p.channel()
	if err != nil {
		return false, err
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, p.exchange, key, true, false, msg)
	if err != nil {
		return false, err
	}
	return dc.WaitContext(ctx)
}

func (p *amqpPublisher) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	if p.ch != nil {
		if err := p.ch.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if p.conn != nil {
		if err := p.conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
			errs = append(errs, err)
		}
	}
	p.ch, p.conn = nil, nil
	return errors.Join(errs...)
}
