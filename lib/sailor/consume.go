package sailor

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// supervise is the one place that keeps the consumer alive: it serves the
// session until the context ends (graceful shutdown) or the session is lost,
// in which case it reconnects and consumes again. When reconnecting is
// impossible it returns an error, so the process exits instead of idling.
func (w *worker) supervise(ctx context.Context, sess *session) error {
	defer close(w.jobs) // after the last dispatch: idle handlers end
	for {
		w.tracker.setGeneration(sess.gen)
		lostErr := w.serve(ctx, sess)
		if lostErr == nil { // shutdown requested
			w.drain(sess)
			return nil
		}
		sess.close()
		if ctx.Err() != nil {
			w.drain(nil)
			return nil
		}
		w.log.Warn("consumer lost; reconnecting", "err", lostErr)
		next, err := w.reconnect(ctx, sess.gen+1)
		if err != nil {
			if ctx.Err() != nil {
				w.drain(nil)
				return nil
			}
			w.tracker.wait(w.drainTimeout)
			return fmt.Errorf("reconnect consumer: %w", err)
		}
		sess = next
		w.log.Info("consumer re-established", "generation", sess.gen)
	}
}

// serve dispatches deliveries until ctx ends (nil) or the consumer is lost
// (the cause).
func (w *worker) serve(ctx context.Context, sess *session) error {
	closed := sess.conn.NotifyClose(make(chan *amqp.Error, 1))
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-closed:
			if err == nil {
				return fmt.Errorf("read connection closed")
			}
			return fmt.Errorf("read connection closed: %w", err)
		case d, ok := <-sess.deliveries:
			if !ok {
				return fmt.Errorf("consumer channel closed or consumer cancelled")
			}
			w.dispatch(d, sess.gen)
		}
	}
}

// dispatch starts processing a delivery unless it is a copy of an input in
// flight. Up to prefetch inputs are processed at once.
func (w *worker) dispatch(d amqp.Delivery, gen uint64) {
	e := w.tracker.admit(d, gen)
	if e == nil {
		return
	}
	j := job{d: d, e: e}
	select {
	case w.jobs <- j: // an idle handler takes it
	default:
		go w.handler(j)
	}
}

// job is an admitted delivery.
type job struct {
	d amqp.Delivery // d, not e.d: the tracker may swap in a redelivered copy meanwhile
	e *entry
}

// handler processes j, then waits for the next job until the worker stops
// consuming (w.jobs closed). Reusing handlers reuses their stacks, grown by
// the first message: a goroutine per message spent about 3% of the worker's
// CPU growing stacks.
func (w *worker) handler(j job) {
	for ok := true; ok; j, ok = <-w.jobs {
		w.process(j)
	}
}

// process handles one input and settles it; a panic is logged and the input
// rejected.
func (w *worker) process(j job) {
	result := outcomeReject
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("panic in message handling", "panic", w.redact.redact(fmt.Sprint(r)))
		}
		w.tracker.complete(j.e, result)
	}()
	result = w.handle(w.msgCtx, &j.d)
}

// drain is the graceful shutdown of the consumer: cancel it, let in-flight
// inputs finish (up to the drain timeout, then cut their publishing short),
// and close the read side. Deliveries that arrive meanwhile are copies to
// settle or are left unacked (the broker requeues them on close).
func (w *worker) drain(sess *session) {
	if sess != nil {
		if err := sess.ch.Cancel(sess.tag, false); err != nil {
			w.log.Warn("cancel consumer", "err", err)
		}
		go func() {
			for d := range sess.deliveries {
				if w.tracker.admitDuplicateOnly(d, sess.gen) {
					continue
				}
			}
		}()
	}
	if !w.tracker.wait(w.drainTimeout) {
		w.log.Warn("in-flight messages did not finish in time; cutting them short", "timeout", w.drainTimeout.String())
		w.msgCancel()
		w.tracker.wait(5 * time.Second)
	}
	if n := w.tracker.unsettled(); n > 0 {
		w.log.Warn("finished inputs could not be acknowledged; the broker will redeliver them", "count", n)
	}
	sess.close()
}
