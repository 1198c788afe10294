package sailor

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// dial opens an AMQP connection named <hostname>-<role>, trying
// AMQP_RECONNECT_ATTEMPTS+1 times, AMQP_RECONNECT_TIMEOUT apart.
func (w *worker) dial(ctx context.Context, role string) (*amqp.Connection, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(w.hostname + "-" + role)
	cfg := amqp.Config{Properties: props, Heartbeat: 10 * time.Second, Locale: "en_US"}
	var lastErr error
	for i := 0; i <= w.settings.ReconnectAttempts; i++ {
		if i > 0 {
			if err := sleepCtx(ctx, w.settings.ReconnectTimeout); err != nil {
				return nil, err
			}
		}
		conn, err := amqp.DialConfig(w.settings.AMQPURI, cfg)
		if err == nil {
			return conn, nil
		}
		lastErr = err
		w.log.Warn("AMQP connection failed", "role", role, "attempt", i+1, "err", w.redact.redact(err.Error()))
	}
	return nil, fmt.Errorf("connect %s: %w", role, lastErr)
}

// session is one consumer: the read connection, its channel and consumer.
type session struct {
	gen        uint64
	conn       *amqp.Connection
	ch         *amqp.Channel
	tag        string
	deliveries <-chan amqp.Delivery
}

// consumeOn opens the consumer channel on conn (prefetch, manual ack) and
// starts consuming LISTEN_MESSAGES_ON. It declares nothing.
func (w *worker) consumeOn(conn *amqp.Connection, gen uint64) (*session, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open consumer channel: %w", err)
	}
	if err := ch.Qos(w.settings.Prefetch, 0, false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("set prefetch: %w", err)
	}
	tag := fmt.Sprintf("%s-%s-%d", w.hostname, newMessageID()[:8], gen)
	deliveries, err := ch.Consume(w.settings.ListenMessagesOn, tag, false, false, false, false, nil)
	if err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("consume %q: %w", w.settings.ListenMessagesOn, err)
	}
	return &session{gen: gen, conn: conn, ch: ch, tag: tag, deliveries: deliveries}, nil
}

// reconnect opens a fresh read connection and consumer, with the reconnect
// attempts of the settings.
func (w *worker) reconnect(ctx context.Context, gen uint64) (*session, error) {
	var lastErr error
	for i := 0; i <= w.settings.ReconnectAttempts; i++ {
		if i > 0 {
			if err := sleepCtx(ctx, w.settings.ReconnectTimeout); err != nil {
				return nil, err
			}
		}
		conn, err := w.dial(ctx, "read")
		if err != nil {
			return nil, err
		}
		sess, err := w.consumeOn(conn, gen)
		if err == nil {
			return sess, nil
		}
		_ = conn.Close()
		lastErr = err
		w.log.Warn("re-consume failed", "attempt", i+1, "err", err)
	}
	return nil, lastErr
}

func (s *session) close() {
	if s == nil {
		return
	}
	_ = s.ch.Close() // a failure here is covered by closing the connection
	_ = s.conn.Close()
}
