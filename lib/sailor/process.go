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
	"time"

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
	ids := []any{"threadId", in.threadID, "messageId", in.messageID, "parentMessageId", in.parentMessageID}
	log := w.log.With(ids...)
	x := &execution{w: w, d: d, in: in, log: log, live: live}
	if limit := w.settings.IncomingMessageSizeLimit; len(d.Body) > limit {
		// Refused before decrypting: decoding takes a few times its size.
		log.Error("rejecting an input over the size limit", "bytes", len(d.Body), "limit", limit)
		x.omitInput = true
		return x.refuse(ctx, fmt.Errorf("Incoming message size %d exceeds limit of %d.", len(d.Body), limit)) //nolint:staticcheck // worded as the outgoing limit's error
	}
	msg, err := w.decode(d, in.protocolVersion)
	if err != nil {
		log.Error("rejecting a message that cannot be decoded", "err", err, "protocolVersion", in.protocolVersion, "bytes", len(d.Body))
		return outcomeReject
	}
	x.input = msg
	if !w.deps.KeepObjectReferences {
		if err := w.objects.Resolve(ctx, msg); err != nil {
			return x.refuse(ctx, err) // the function never runs on a body left as {}
		}
	}
	if log.Enabled(ctx, slog.LevelDebug) {
		// The shape only: bodies carry patient data, which no log level shows.
		log.Debug("processing message", "redelivered", d.Redelivered, "body_bytes", len(msg.Body),
			"body_fields", bodyFields(msg.Body), "headers", slices.Sorted(maps.Keys(msg.Headers)))
	}
	cfg, snapshot := w.state.forMessage()
	x.cfg = cfg
	execMsg := *msg
	execMsg.Headers = maps.Clone(msg.Headers)
	if in.replyTo != "" {
		execMsg.Headers["reply_to"] = in.replyTo
	}
	ex := &component.Exec{
		Msg: &execMsg, Cfg: cfg, Snapshot: snapshot, Vars: w.state.variables, Emit: x,
		Log: w.componentLog.With(ids...), API: w.api,
	}
	err = w.call(ctx, x, ex)
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
	case errors.Is(err, errWatchdog):
		log.LogAttrs(ctx, slog.LevelInfo, "message timed out; rejecting it", redelivered, took)
		return outcomeReject
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

// errWatchdog says a function ran past ELASTICIO_MESSAGE_PROCESSING_TIMEOUT.
var errWatchdog = errors.New("message processing timed out")

// call runs the function. With a processing timeout, a function still
// running past it is left behind: its context is cancelled, its later events
// are refused, and the message ends with errWatchdog.
func (w *worker) call(ctx context.Context, x *execution, ex *component.Exec) error {
	timeout := w.settings.ProcessingTimeout
	if timeout <= 0 {
		return callFunction(ctx, w.fn, ex)
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- callFunction(fctx, w.fn, ex) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		x.refuseEvents()
		return fmt.Errorf("%w after %v", errWatchdog, timeout)
	}
}

// decode decrypts and parses an input. Empty, undecryptable and non-object
// inputs are errors. With ELASTICIO_INPUT_FORMAT=error the input is an error
// event of another step (a flow's error handler).
func (w *worker) decode(d *amqp.Delivery, version int) (*component.Message, error) {
	if w.settings.InputFormat == "error" {
		return w.decodeErrorInput(d)
	}
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

// decodeErrorInput reads an error event, {error, errorInput?} with base64
// AES strings, into the message an error handler gets: body {error: {name,
// message, stack}, errorInput: <the envelope that failed>}, headers: the
// AMQP headers.
func (w *worker) decodeErrorInput(d *amqp.Delivery) (*component.Message, error) {
	var p errorPayload
	if err := json.Unmarshal(d.Body, &p); err != nil || p.Error == "" {
		return nil, errors.New("error input: not an error event {error, errorInput}")
	}
	body := map[string]json.RawMessage{}
	for field, enc := range map[string]string{"error": p.Error, "errorInput": p.ErrorInput} {
		if enc == "" {
			continue
		}
		plain, err := w.cipher.DecryptMessage([]byte(enc), 1)
		if err != nil || !json.Valid(plain) {
			return nil, fmt.Errorf("error input: %s cannot be decrypted", field)
		}
		body[field] = plain
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	h := make(map[string]any, len(d.Headers))
	for k, v := range d.Headers {
		h[k] = v
	}
	return &component.Message{Headers: h, Body: b}, nil
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
