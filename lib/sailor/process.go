package sailor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"

	"github.com/fitbitplus/connector/lib/component"
	amqp "github.com/rabbitmq/amqp091-go"
)

// outcome is how an input message is settled.
type outcome int

const (
	outcomeAck    outcome = iota // processed; ack
	outcomeReject                // an error event was emitted or the input is bad; reject without requeue
	outcomeLeave                 // publishing was cut short: leave unacked so that the broker redelivers it
)

func (o outcome) String() string {
	switch o {
	case outcomeAck:
		return "ack"
	case outcomeReject:
		return "reject"
	default:
		return "leave"
	}
}

// handle processes one input message and says how to settle it: the one
// place that decides ack, reject or leave. live tells whether the input can
// still be settled (its delivery's channel is open).
func (w *worker) handle(ctx context.Context, d *amqp.Delivery, live func() bool) outcome {
	in := readIncoming(d.Headers, nowMs())
	log := w.log.With("threadId", in.threadID, "messageId", in.messageID, "parentMessageId", in.parentMessageID)
	if limit := w.settings.IncomingMessageSizeLimit; len(d.Body) > limit {
		// Refused before decrypting: decoding takes a few times its size.
		log.Error("rejecting an input over the size limit", "bytes", len(d.Body), "limit", limit)
		x := &execution{w: w, d: d, in: in, log: log, live: live, omitInput: true}
		_ = x.fail(ctx, fmt.Errorf("Incoming message size %d exceeds limit of %d.", len(d.Body), limit)) //nolint:staticcheck // worded as the outgoing limit's error
		x.finish()
		return outcomeReject
	}
	msg, err := w.decode(d, in.protocolVersion)
	if err != nil {
		log.Error("rejecting a message that cannot be decoded", "err", err, "protocolVersion", in.protocolVersion, "bytes", len(d.Body))
		return outcomeReject
	}
	if log.Enabled(ctx, slog.LevelDebug) {
		// The shape only: bodies carry patient data, which no log level shows.
		log.Debug("processing message", "redelivered", d.Redelivered, "body_bytes", len(msg.Body),
			"body_fields", bodyFields(msg.Body), "headers", slices.Sorted(maps.Keys(msg.Headers)))
	}
	cfg, snapshot := w.state.forMessage()
	x := &execution{w: w, d: d, in: in, input: msg, cfg: cfg, log: log, live: live}
	execMsg := *msg
	execMsg.Headers = maps.Clone(msg.Headers)
	if in.replyTo != "" {
		execMsg.Headers["reply_to"] = in.replyTo
	}
	ex := &component.Exec{
		Msg: &execMsg, Cfg: cfg, Snapshot: snapshot, Vars: w.state.variables, Emit: x,
		Log: w.componentLog.With("threadId", in.threadID, "messageId", in.messageID, "parentMessageId", in.parentMessageID),
		API: w.api,
	}
	err = callFunction(ctx, w.fn, ex)
	var rb *component.ReboundError
	var pe *panicError
	switch {
	case err == nil, isReported(err):
	case errors.As(err, &rb):
		if rErr := x.rebound(ctx, rb.Err); rErr != nil {
			_ = x.fail(ctx, fmt.Errorf("rebound failed: %w", rErr))
		}
	default:
		if errors.As(err, &pe) {
			log.Error("function panicked", "panic", fmt.Sprint(pe.value), "stack", pe.stack)
		}
		_ = x.fail(ctx, err)
	}
	x.finish()
	// The one info line of a message: its outcome, and how long it took.
	took := slog.Int64("durationMs", nowMs()-in.start)
	redelivered := slog.Bool("redelivered", d.Redelivered)
	switch {
	case x.abandoned.Load():
		log.LogAttrs(ctx, slog.LevelWarn, "message left unacknowledged: publishing was cut short", redelivered, took)
		return outcomeLeave
	case x.failed.Load():
		log.LogAttrs(ctx, slog.LevelInfo, "message processed with errors; rejecting it", redelivered, took)
		return outcomeReject
	default:
		log.LogAttrs(ctx, slog.LevelInfo, "message processed", redelivered, took)
		return outcomeAck
	}
}

// decode decrypts and parses an input. Empty, undecryptable and non-object
// inputs are errors.
func (w *worker) decode(d *amqp.Delivery, version int) (*component.Message, error) {
	plain, err := w.cipher.DecryptMessage(d.Body, version)
	if err != nil {
		return nil, err
	}
	var msg component.Message
	if err := msg.UnmarshalJSON(plain); err != nil { // one parse; json.Unmarshal would scan it first
		return nil, err
	}
	return &msg, nil
}

// callFunction runs the function; a panic becomes an error, so that no
// panic of a function stops the worker.
func callFunction(ctx context.Context, fn component.Function, ex *component.Exec) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r, stack: string(debug.Stack())}
		}
	}()
	return fn.Process(ctx, ex)
}

// bodyFields lists the top-level field names of a JSON object body.
func bodyFields(body json.RawMessage) []string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return nil
	}
	return slices.Sorted(maps.Keys(obj))
}
