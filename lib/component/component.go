// Package component is the contract between the runtimes (the AMQP worker in
// lib/sailor, the local runner behind `connector exec`) and the functions they
// run (the generated actions, the hand-written triggers).
//
// A Function processes one incoming message. It emits events through the
// Emitter it is given and returns:
//   - nil: the message is done (the runtime acks it unless an error was emitted);
//   - an error wrapped by Rebound: the runtime emits a rebound event (the
//     platform retries the message later) and acks the input;
//   - any other error: the runtime emits it as an error event and rejects the
//     input without requeue.
package component

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
)

// Function is one action or trigger of the component.
type Function interface {
	Process(ctx context.Context, ex *Exec) error
}

// FunctionFunc adapts a plain function to Function.
type FunctionFunc func(ctx context.Context, ex *Exec) error

// Process calls f.
func (f FunctionFunc) Process(ctx context.Context, ex *Exec) error { return f(ctx, ex) }

// Exec is everything a Function gets for one message.
type Exec struct {
	Msg      *Message        // the decrypted incoming envelope
	Cfg      Config          // the step's configuration (credential fields included)
	Snapshot json.RawMessage // the step's current snapshot ({} when none)
	Vars     json.RawMessage // the flow variables of the step (nil when none)
	Emit     Emitter         // where events go
	Log      *slog.Logger    // per-message logger; never log secrets or patient data at info
	API      APIProvider     // authenticated HTTP clients for the Fitbit Plus API
}

// Emitter publishes the events of one incoming message. Each call returns once
// the event is handed over durably (for the worker: confirmed by the broker).
type Emitter interface {
	Data(ctx context.Context, m *Message) error
	Error(ctx context.Context, err error) error
	Rebound(ctx context.Context, reason error) error
	Snapshot(ctx context.Context, snapshot json.RawMessage) error
	UpdateSnapshot(ctx context.Context, delta json.RawMessage) error
	UpdateKeys(ctx context.Context, keys json.RawMessage) error
	HTTPReply(ctx context.Context, reply HTTPReply) error
}

// HTTPReply is the payload of an httpReply event.
type HTTPReply struct {
	StatusCode int               `json:"statusCode"`
	Body       any               `json:"body"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// APIProvider gives the HTTP client to use for a step configuration: the base
// URL chosen by the credential and a client that authenticates every request.
type APIProvider interface {
	Client(ctx context.Context, cfg Config) (APIClient, error)
}

// APIClient sends requests to one Fitbit Plus API base URL with a credential.
type APIClient interface {
	BaseURL() string
	Do(req *http.Request) (*http.Response, error)
}

// Config is a step configuration as the platform passes it (cfg).
type Config map[string]any

// String returns the string value of key, or "" when absent or not a string.
func (c Config) String(key string) string {
	s, _ := c[key].(string)
	return s
}

// ReboundError asks the runtime to rebound the message instead of failing it.
type ReboundError struct{ Err error }

func (e *ReboundError) Error() string { return e.Err.Error() }
func (e *ReboundError) Unwrap() error { return e.Err }

// Rebound marks err as transient: the platform should retry the message later.
func Rebound(err error) error {
	if err == nil {
		return nil
	}
	return &ReboundError{Err: err}
}

// IsRebound tells whether err asks for a rebound.
func IsRebound(err error) bool {
	var r *ReboundError
	return errors.As(err, &r)
}

// DescribedError is an error that carries a name and extra fields for the
// error event payload ({name, message, stack, ...fields}).
type DescribedError interface {
	error
	ErrorName() string
	ErrorFields() map[string]any
}

// LogFielder is an error that says what it is for an info-level log line
// without free text from outside the connector, which may hold patient data:
// codes, statuses, field names, request ids (key-value pairs for slog). The
// runtime logs the message of an error that is not one, and the message of one
// only at debug.
type LogFielder interface {
	LogFields() []any
}

// InputError says the incoming message does not fit the function's input
// (missing required field, wrong type, value not in the enum). No API call was
// made.
type InputError struct {
	Field  string // dotted input path, e.g. "filter.patient"
	Reason string
}

func (e *InputError) Error() string {
	if e.Field == "" {
		return "invalid input: " + e.Reason
	}
	return "invalid input: " + e.Field + ": " + e.Reason
}

// ErrorName implements DescribedError.
func (e *InputError) ErrorName() string { return "InvalidInput" }

// ErrorFields implements DescribedError.
func (e *InputError) ErrorFields() map[string]any {
	return map[string]any{"field": e.Field}
}

// LogFields implements LogFielder: the field; the reason may quote a value.
func (e *InputError) LogFields() []any { return []any{"field", e.Field} }
