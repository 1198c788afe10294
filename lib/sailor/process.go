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
	outcomeLeave                 // gave up (shutdown deadline): leave unacked so the broker redelivers it
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

// handle processes one input message and says how to settle it. It is the
// one place that decides ack, reject or leave; no panic escapes it.
func (w *worker) handle(ctx context.Context, d *amqp.Delivery) (out outcome) {
	in := readIncoming(d.Headers, nowMs())
	ids := []slog.Attr{slog.String("threadId", in.threadID), slog.String("messageId", in.messageID),
		slog.String("parentMessageId", in.parentMessageID)}
	log := messageLogger(w.log, ids...)
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic while handling a message; rejecting it", "panic", w.redact.redact(fmt.Sprint(r)), "stack", string(debug.Stack()))
			out = outcomeReject
		}
	}()
	msg, err := w.decode(d, in.protocolVersion)
	if err != nil {
		log.Error("rejecting a message that cannot be decoded", "err", err, "protocolVersion", in.protocolVersion, "bytes", len(d.Body))
		return outcomeReject
	}
	if log.Enabled(ctx, slog.LevelDebug) {
		log.Debug("processing message", "redelivered", d.Redelivered)
		// The shape only: bodies carry patient data, which no log level shows.
		log.Debug("message content", "body_bytes", len(msg.Body), "body_fields", bodyFields(msg.Body),
			"headers", slices.Sorted(maps.Keys(msg.Headers)))
	}
	cfg, snapshot := w.state.forMessage()
	x := &execution{w: w, d: d, in: in, input: msg, cfg: cfg, log: log}
	execMsg := *msg
	execMsg.Headers = maps.Clone(msg.Headers)
	if in.replyTo != "" {
		execMsg.Headers["reply_to"] = in.replyTo
	}
	ex := &component.Exec{
		Msg: &execMsg, Cfg: cfg, Snapshot: snapshot, Vars: w.state.variables, Emit: x,
		Log: messageLogger(w.componentLog, ids...), API: w.api,
	}
	err = callFunction(ctx, w.fn, ex)
	var rb *component.ReboundError
	switch {
	case err == nil:
	case isReported(err):
	case errors.As(err, &rb):
		if rErr := x.rebound(ctx, rb.Err); rErr != nil {
			log.Error("rebound failed", "err", rErr)
			x.errors.Add(1)
		}
	default:
		var pe *panicError
		if errors.As(err, &pe) {
			log.Error("function panicked", "panic", w.redact.redact(fmt.Sprint(pe.value)), "stack", pe.stack)
		}
		x.errors.Add(1)
		if pErr := x.publishError(ctx, err, true); pErr != nil {
			log.Error("publish error event", "err", pErr)
		}
	}
	x.finish()
	// The one info line of a message: its outcome, with the ids (log) and
	// how long it took.
	took := slog.Int64("durationMs", nowMs()-in.start)
	redelivered := slog.Bool("redelivered", d.Redelivered)
	switch {
	case x.aborted.Load():
		log.LogAttrs(ctx, slog.LevelWarn, "message left unacknowledged: publishing was cut short", redelivered, took)
		return outcomeLeave
	case x.errors.Load() > 0:
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
	// UnmarshalJSON checks the JSON itself: json.Unmarshal would first scan
	// the whole input twice more. A failure is decoded again by
	// json.Unmarshal for its error, worded as before.
	if msg.UnmarshalJSON(plain) != nil {
		if err := json.Unmarshal(plain, &msg); err != nil {
			return nil, err
		}
	}
	return &msg, nil
}

// callFunction runs the function, turning a panic into an error.
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
