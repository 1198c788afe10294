package sailor

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// link is the worker's two AMQP connections: "read" carries the consumer,
// "write" the confirm channel of every publish. serve is the one place that
// watches them and reconnects the side that is lost.
type link struct {
	w         *worker
	readConn  *amqp.Connection
	sess      *session // the consumer on readConn
	writeConn *amqp.Connection
	writeLost chan *amqp.Error // the confirm channel closed (with its connection, or alone)
	pub       *amqpPublisher
}

// session is one consumer: its channel, tag and deliveries, numbered by
// generation (1, then one more per reconnect).
type session struct {
	gen        uint64
	ch         consumerChannel
	tag        string
	deliveries <-chan amqp.Delivery
	closed     chan *amqp.Error
}

// consumerChannel is what the worker uses of a consumer's *amqp.Channel.
type consumerChannel interface {
	IsClosed() bool
	Cancel(consumer string, noWait bool) error
}

// retry calls f up to AMQP_RECONNECT_ATTEMPTS+1 times,
// AMQP_RECONNECT_TIMEOUT apart, until it succeeds.
func (w *worker) retry(ctx context.Context, what string, f func() error) error {
	var err error
	for i := 0; i <= w.settings.ReconnectAttempts; i++ {
		if i > 0 {
			if sErr := sleepCtx(ctx, w.settings.ReconnectTimeout); sErr != nil {
				return sErr
			}
		}
		if err = f(); err == nil {
			return nil
		}
		w.log.Warn(what+" failed", "attempt", i+1, "err", err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// dial opens an AMQP connection named <hostname>-<role>.
func (w *worker) dial(role string) (*amqp.Connection, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(w.hostname + "-" + role)
	return amqp.DialConfig(w.settings.AMQPURI, amqp.Config{Properties: props, Heartbeat: 10 * time.Second, Locale: "en_US"})
}

// openRead opens the read connection.
func (l *link) openRead(ctx context.Context) error {
	return l.w.retry(ctx, "connect read", func() (err error) {
		l.readConn, err = l.w.dial("read")
		return err
	})
}

// openWrite (re)opens the write connection and its confirm channel, and
// hands the channel to the publisher.
func (l *link) openWrite(ctx context.Context) error {
	return l.w.retry(ctx, "connect write", func() error {
		conn, err := l.w.dial("write")
		if err != nil {
			return err
		}
		if err := l.openPublishChannel(conn); err != nil {
			_ = conn.Close()
			return err
		}
		l.writeConn = conn
		return nil
	})
}

// openPublishChannel opens a confirm channel on conn for the publisher.
func (l *link) openPublishChannel(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err != nil {
		return fmt.Errorf("open publish channel: %w", err)
	}
	l.writeLost = ch.NotifyClose(make(chan *amqp.Error, 1))
	l.pub.use(ch, conn.Config.FrameSize)
	return nil
}

// consume opens the consumer channel on the read connection (prefetch,
// manual ack) and consumes LISTEN_MESSAGES_ON. It declares nothing.
func (l *link) consume(gen uint64) error {
	w := l.w
	ch, err := l.readConn.Channel()
	if err != nil {
		return fmt.Errorf("open consumer channel: %w", err)
	}
	if err := ch.Qos(w.settings.Prefetch, 0, false); err != nil {
		_ = ch.Close()
		return fmt.Errorf("set prefetch: %w", err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	tag := fmt.Sprintf("%s-%s-%d", w.hostname, newMessageID()[:8], gen)
	deliveries, err := ch.Consume(w.settings.ListenMessagesOn, tag, false, false, false, false, nil)
	if err != nil {
		_ = ch.Close()
		return fmt.Errorf("consume %q: %w", w.settings.ListenMessagesOn, err)
	}
	l.sess = &session{gen: gen, ch: ch, tag: tag, deliveries: deliveries, closed: closed}
	return nil
}

// reconnectRead replaces a lost consumer: a fresh read connection and a
// consumer of the next generation.
func (l *link) reconnectRead(ctx context.Context) error {
	gen := l.sess.gen + 1
	return l.w.retry(ctx, "reconnect consumer", func() (err error) {
		_ = l.readConn.Close()
		if l.readConn, err = l.w.dial("read"); err != nil {
			return err
		}
		return l.consume(gen)
	})
}

// serve dispatches deliveries and keeps both sides connected until ctx ends
// (then it drains: nil) or a lost side cannot be reconnected (the error, so
// that the process exits and the platform restarts it).
func (l *link) serve(ctx context.Context) error {
	w := l.w
	for {
		select {
		case <-ctx.Done():
			return l.drain()
		case d, ok := <-l.sess.deliveries:
			if ok {
				w.dispatch(d, l.sess)
				continue
			}
			w.log.Warn("consumer lost; reconnecting", "err", closeReason(l.sess.closed))
			if err := l.reconnectRead(ctx); err != nil {
				return l.fail(ctx, err)
			}
			w.log.Info("consumer re-established", "generation", l.sess.gen)
		case err := <-l.writeLost:
			if err := l.restoreWrite(ctx, err); err != nil {
				return l.fail(ctx, err)
			}
		}
	}
}

// restoreWrite reopens the write side after its channel closed with err.
func (l *link) restoreWrite(ctx context.Context, err *amqp.Error) error {
	l.pub.use(nil, 0)
	if err == nil && !l.writeConn.IsClosed() {
		// The publisher retired the channel after a nack: a fresh one on
		// the same connection.
		l.w.log.Debug("reopening the publish channel")
		if oErr := l.openPublishChannel(l.writeConn); oErr == nil {
			return nil
		}
	}
	l.w.log.Warn("write connection lost; reconnecting", "err", err)
	_ = l.writeConn.Close()
	if err := l.openWrite(ctx); err != nil {
		return err
	}
	l.w.log.Info("write connection re-established")
	return nil
}

// fail stops after a side could not be reconnected: inputs in flight are
// cut short (the broker redelivers them).
func (l *link) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	l.w.msgCancel()
	l.w.tracker.wait(5 * time.Second)
	return err
}

// drain is the graceful shutdown: cancel the consumer, let the inputs in
// flight finish (the write side is still reconnected if lost) up to the drain
// timeout, then cut their publishing short. Deliveries that arrive meanwhile
// settle inputs in flight when they are their copies; the others stay
// unacked, and the broker requeues them when the channel closes.
func (l *link) drain() error {
	w := l.w
	if err := l.sess.ch.Cancel(l.sess.tag, false); err != nil {
		w.log.Warn("cancel consumer", "err", err)
	}
	deliveries := l.sess.deliveries
	idle := w.tracker.idle()
	deadline := time.NewTimer(w.drainTimeout)
	defer deadline.Stop()
	for {
		select {
		case <-idle:
			l.reportUnsettled()
			return nil
		case d, ok := <-deliveries:
			if !ok {
				deliveries = nil // the consumer is gone; nothing more arrives
				continue
			}
			w.tracker.adoptOnly(d, l.sess)
		case err := <-l.writeLost:
			if rErr := l.restoreWrite(context.Background(), err); rErr != nil {
				w.log.Warn("in-flight messages cannot publish; cutting them short", "err", rErr)
				w.msgCancel()
			}
		case <-deadline.C:
			w.log.Warn("in-flight messages did not finish in time; cutting them short", "timeout", w.drainTimeout.String())
			w.msgCancel()
			w.tracker.wait(5 * time.Second)
			l.reportUnsettled()
			return nil
		}
	}
}

func (l *link) reportUnsettled() {
	if n := l.w.tracker.unsettled(); n > 0 {
		l.w.log.Warn("finished inputs could not be acknowledged; the broker will redeliver them", "count", n)
	}
}

// close closes both connections (their channels with them).
func (l *link) close() {
	if l.readConn != nil {
		_ = l.readConn.Close()
	}
	if l.writeConn != nil {
		_ = l.writeConn.Close()
	}
}

// closeReason is the error a closed channel reported, if any.
func closeReason(closed <-chan *amqp.Error) error {
	select {
	case err, ok := <-closed:
		if ok && err != nil {
			return err
		}
	default:
	}
	return fmt.Errorf("the consumer was cancelled or its channel closed")
}

// dispatch starts processing a delivery unless it is a copy of an input in
// flight. The broker hands over at most prefetch inputs at once.
func (w *worker) dispatch(d amqp.Delivery, sess *session) {
	e := w.tracker.admit(d, sess)
	if e == nil {
		return
	}
	go func() { w.tracker.complete(e, w.handle(w.msgCtx, &d, func() bool { return w.tracker.live(e) })) }()
}
