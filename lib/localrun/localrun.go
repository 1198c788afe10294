// Package localrun runs a component function on input messages without a
// broker, the way the worker would, and writes every emitted event as one JSON
// line {"event": NAME, "payload": WHAT_WAS_EMITTED}. It is what
// `connector exec` and `connector demo` are made of.
package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/fitbitplus/connector/lib/component"
)

// Event is one line of output.
type Event struct {
	Event   string `json:"event"`
	Payload any    `json:"payload"`
}

// Runner runs functions by name.
type Runner struct {
	Functions map[string]component.Function
	API       component.APIProvider
	Log       *slog.Logger
	// OnEvent receives every event in order; nil discards them.
	OnEvent func(Event)
}

// Result sums up one run.
type Result struct {
	Counts   map[string]int  // events by name
	Snapshot json.RawMessage // the snapshot after the last message
}

// Errors is the number of error events.
func (r Result) Errors() int { return r.Counts["error"] }

// Run processes each input in order with the named function, keeping the
// snapshot across messages as the worker does. A function error becomes an
// error event (a rebound request a rebound event), exactly as in the worker;
// Run itself fails only when the function does not exist.
func (r *Runner) Run(ctx context.Context, name string, cfg component.Config, snapshot json.RawMessage, inputs []*component.Message) (Result, error) {
	fn, ok := r.Functions[name]
	if !ok {
		return Result{}, fmt.Errorf("no action or trigger named %q", name)
	}
	if len(bytes.TrimSpace(snapshot)) == 0 {
		snapshot = json.RawMessage("{}")
	}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	em := &emitter{onEvent: r.OnEvent, counts: map[string]int{}, snapshot: snapshot}
	for _, msg := range inputs {
		if msg.Headers == nil {
			msg.Headers = map[string]any{}
		}
		ex := &component.Exec{Msg: msg, Cfg: cfg, Snapshot: em.currentSnapshot(), Emit: em, Log: log, API: r.API}
		err := safeProcess(ctx, fn, ex)
		switch {
		case err == nil:
		case component.IsRebound(err):
			_ = em.Rebound(ctx, err)
		default:
			_ = em.Error(ctx, err)
		}
	}
	return Result{Counts: em.counts, Snapshot: em.currentSnapshot()}, nil
}

// safeProcess turns a panic of the function into an error, as the worker does.
func safeProcess(ctx context.Context, fn component.Function, ex *component.Exec) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("function panicked: %v", p)
		}
	}()
	return fn.Process(ctx, ex)
}

// ReadInputs decodes a stream of JSON values, one message each. A value that
// is an object with a "body" key and only envelope keys besides (id, headers,
// attachments, passthrough) is taken as a whole envelope; any other object is
// the message body. Empty input gives no message.
func ReadInputs(r io.Reader) ([]*component.Message, error) {
	dec := json.NewDecoder(r)
	var out []*component.Message
	for i := 1; ; i++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("input message %d: %w", i, err)
		}
		msg, err := toMessage(raw)
		if err != nil {
			return nil, fmt.Errorf("input message %d: %w", i, err)
		}
		out = append(out, msg)
	}
}

var envelopeKeys = map[string]bool{"id": true, "headers": true, "body": true, "attachments": true, "passthrough": true}

func toMessage(raw json.RawMessage) (*component.Message, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, errors.New("a message must be a JSON object")
	}
	envelope := obj["body"] != nil
	for k := range obj {
		if !envelopeKeys[k] {
			envelope = false
		}
	}
	if !envelope {
		return &component.Message{Headers: map[string]any{}, Body: raw}, nil
	}
	var m component.Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

type emitter struct {
	mu       sync.Mutex
	onEvent  func(Event)
	counts   map[string]int
	snapshot json.RawMessage
}

func (e *emitter) emit(name string, payload any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts[name]++
	if e.onEvent != nil {
		e.onEvent(Event{Event: name, Payload: payload})
	}
	return nil
}

func (e *emitter) currentSnapshot() json.RawMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.snapshot
}

func (e *emitter) Data(_ context.Context, m *component.Message) error { return e.emit("data", m) }

func (e *emitter) Error(_ context.Context, err error) error {
	return e.emit("error", component.ErrorPayload(err))
}

func (e *emitter) Rebound(_ context.Context, reason error) error {
	return e.emit("rebound", map[string]any{"reason": reason.Error()})
}

func (e *emitter) Snapshot(_ context.Context, s json.RawMessage) error {
	if !json.Valid(s) {
		return errors.New("snapshot is not valid JSON")
	}
	e.mu.Lock()
	e.snapshot = append(json.RawMessage(nil), s...)
	e.mu.Unlock()
	return e.emit("snapshot", s)
}

// UpdateSnapshot shallow-merges the delta into the snapshot, as the sailor does.
func (e *emitter) UpdateSnapshot(_ context.Context, delta json.RawMessage) error {
	d, err := component.SnapshotDelta(delta)
	if err != nil {
		return err
	}
	e.mu.Lock()
	merged, err := component.MergeSnapshot(e.snapshot, d)
	if err == nil {
		e.snapshot = merged
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	return e.emit("updateSnapshot", delta)
}

func (e *emitter) UpdateKeys(_ context.Context, keys json.RawMessage) error {
	return e.emit("updateKeys", keys)
}

func (e *emitter) HTTPReply(_ context.Context, reply component.HTTPReply) error {
	return e.emit("httpReply", reply)
}

// JSONLines returns an OnEvent that writes each event as one JSON line to w.
// Write errors are reported through errp (the first one wins).
func JSONLines(w io.Writer, errp *error) func(Event) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return func(ev Event) {
		if err := enc.Encode(ev); err != nil && *errp == nil {
			*errp = err
		}
	}
}
