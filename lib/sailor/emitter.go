package sailor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	amqp "github.com/rabbitmq/amqp091-go"
)

// execution is the Emitter of one incoming message. It records whether the
// input failed (an error event was emitted) or was abandoned (a publish was
// cut short), which decide how handle settles it, tracks publishes in flight
// (the input is settled only after all of them are confirmed) and refuses
// events once the function has returned.
type execution struct {
	w         *worker
	d         *amqp.Delivery     // the input as received (rebound, errorInput)
	in        incoming           // what its headers say
	input     *component.Message // the decoded input envelope, untouched
	cfg       component.Config   // this message's copy of the step config
	log       *slog.Logger
	live      func() bool // whether the input can still be settled
	omitInput bool        // error events carry no errorInput (the input is too large)
	mu        sync.Mutex
	ended     bool
	ids       map[string]bool // ids of the data messages emitted
	inflight  sync.WaitGroup
	failed    atomic.Bool // set by fail only
	abandoned atomic.Bool // a publish was cut short (shutdown deadline, channel gone)
}

var errEnded = errors.New("event emitted after the function returned")

// refuseEvents makes later events of the message fail (its function was
// left behind by the watchdog).
func (x *execution) refuseEvents() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.ended = true
}

// begin registers an event in flight; it fails once the message is finished.
func (x *execution) begin() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ended {
		x.log.Warn("event emitted after the function returned; ignored")
		return errEnded
	}
	x.inflight.Add(1)
	return nil
}

// finish refuses further events and waits for those in flight.
func (x *execution) finish() {
	x.mu.Lock()
	x.ended = true
	x.mu.Unlock()
	x.inflight.Wait()
}

func (x *execution) publish(ctx context.Context, key string, msg amqp.Publishing) error {
	err := x.w.publish(ctx, key, msg, x.log, x.live)
	if err != nil && (ctx.Err() != nil || errors.Is(err, errAbandoned)) {
		x.abandoned.Store(true)
	}
	return err
}

// fail marks the input failed (it is rejected) and publishes err as an error
// event; it returns err marked as reported.
func (x *execution) fail(ctx context.Context, err error) error {
	x.failed.Store(true)
	if pErr := x.publishError(ctx, err); pErr != nil {
		x.log.Error("publish error event", "err", pErr)
	}
	return reported(err)
}

// refuse ends an input that the function does not get: an error event, then
// reject.
func (x *execution) refuse(ctx context.Context, err error) outcome {
	_ = x.fail(ctx, err)
	x.finish()
	return outcomeReject
}

// Data implements component.Emitter.
func (x *execution) Data(ctx context.Context, m *component.Message) error {
	if err := x.begin(); err != nil {
		return err
	}
	defer x.inflight.Done()
	if m == nil {
		return x.fail(ctx, errors.New("data event without a message"))
	}
	if err := x.data(ctx, m); err != nil {
		return x.fail(ctx, err)
	}
	return nil
}

func (x *execution) data(ctx context.Context, m *component.Message) error {
	w := x.w
	out := *m
	out.Headers = maps.Clone(m.Headers)
	if out.Headers == nil {
		out.Headers = map[string]any{}
	}
	key := routingOverride(out.Headers)
	if key == "" {
		key = w.settings.DataRoutingKey
	}
	out.ID = x.claimID(m.ID)
	// The official message constructors always set these; components read
	// them without checking.
	if len(out.Attachments) == 0 {
		out.Attachments = json.RawMessage("{}")
	}
	if _, ok := out.Extra["metadata"]; !ok {
		out.Extra = maps.Clone(out.Extra)
		if out.Extra == nil {
			out.Extra = map[string]json.RawMessage{}
		}
		out.Extra["metadata"] = json.RawMessage("{}")
	}
	if err := x.passthroughAndObjects(ctx, &out); err != nil {
		return err
	}
	if err := waitLimiter(ctx, w.dataLimiter); err != nil {
		return err
	}
	plain, err := out.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode data: %w", err)
	}
	body := w.seal(plain, w.settings.ProtocolVersion)
	if err := w.checkSize(body); err != nil {
		return err
	}
	h := w.eventHeaders(&x.in)
	h["messageId"] = out.ID // what the next step's component sees as msg.id
	h["end"] = nowMs()
	h["protocolVersion"] = int64(w.settings.ProtocolVersion)
	return x.publish(ctx, key, w.properties(h, body))
}

// claimID is the id of a data message: its own, as the official sailors do,
// unless it has none or repeats one already emitted for this input; then a
// fresh uuid, so that no two messages share a messageId.
func (x *execution) claimID(id string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	if id == "" || x.ids[id] {
		id = newMessageID()
	}
	if x.ids == nil {
		x.ids = map[string]bool{}
	}
	x.ids[id] = true
	return id
}

// passthroughAndObjects sets the output's passthrough and, with
// ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE, moves large bodies to object storage
// (before the step's own passthrough entry is added, so that it refers to the
// same object); without it, passthrough bodies left in object storage are
// inlined.
func (x *execution) passthroughAndObjects(ctx context.Context, out *component.Message) error {
	carried := maps.Clone(out.Passthrough)
	if x.w.state.passthrough() {
		carried = maps.Clone(x.input.Passthrough)
	}
	if x.w.settings.EmitLightweightMessage {
		if carried == nil {
			carried = map[string]json.RawMessage{}
		}
		if err := x.lighten(ctx, out, carried); err != nil {
			return err
		}
	} else if err := x.inlineObjects(ctx, carried); err != nil {
		return err
	}
	if !x.w.state.passthrough() {
		if len(carried) > 0 || out.Passthrough != nil {
			out.Passthrough = carried
		}
		return nil
	}
	pt, err := x.passthrough(out, carried)
	if err != nil {
		return err
	}
	out.Passthrough = pt
	return nil
}

// routingOverride removes every case variant of x-eio-routing-key from the
// body headers and returns the value of the first string one.
func routingOverride(h map[string]any) string {
	key := ""
	for k, v := range h {
		if strings.EqualFold(k, "x-eio-routing-key") {
			if s, ok := v.(string); ok && key == "" {
				key = s
			}
			delete(h, k)
		}
	}
	return key
}

// passthrough computes the passthrough of an output message: with
// NO_SELF_PASSTRHOUGH the input envelope under the previous step's id,
// otherwise this output under this step's id (docs/protocol.md).
func (x *execution) passthrough(out *component.Message, carried map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	pt := maps.Clone(carried)
	if pt == nil {
		pt = map[string]json.RawMessage{}
	}
	if x.w.settings.NoSelfPassthrough {
		if x.in.stepID == "" {
			return pt, nil
		}
		prev := *x.input
		prev.Passthrough = nil
		b, err := json.Marshal(prev)
		if err != nil {
			return nil, fmt.Errorf("encode passthrough: %w", err)
		}
		pt[x.in.stepID] = b
		return pt, nil
	}
	self := *out
	self.Passthrough = nil
	b, err := json.Marshal(self)
	if err != nil {
		return nil, fmt.Errorf("encode passthrough: %w", err)
	}
	pt[x.w.settings.StepID] = b
	return pt, nil
}

func (w *worker) checkSize(body []byte) error {
	if limit := w.settings.OutgoingMessageSizeLimit; limit > 0 && len(body) > limit {
		// The official sailor's wording, which platform users may know.
		return fmt.Errorf("Outgoing message size %d exceeds limit of %d.", len(body), limit) //nolint:staticcheck
	}
	return nil
}

// Error implements component.Emitter: an error event, which makes the input
// rejected.
func (x *execution) Error(ctx context.Context, err error) error {
	if bErr := x.begin(); bErr != nil {
		return bErr
	}
	defer x.inflight.Done()
	return x.fail(ctx, err)
}

// publishError publishes an error event to the error routing key and, when
// the input has reply_to and NO_ERROR_REPLIES is off, a copy to reply_to. A
// copy that cannot be published (a reply_to longer than a routing key may
// be) is dropped with a warning.
func (x *execution) publishError(ctx context.Context, err error) error {
	w := x.w
	if lErr := waitLimiter(ctx, w.errorLimiter); lErr != nil {
		return lErr
	}
	x.logError(err)
	p := w.errorPayload(err, x.errorInput())
	body, mErr := json.Marshal(p)
	if mErr != nil {
		return fmt.Errorf("encode error payload: %w", mErr)
	}
	h := w.eventHeaders(&x.in)
	h["end"] = nowMs()
	if pErr := x.publish(ctx, w.settings.ErrorRoutingKey, w.properties(h, body)); pErr != nil {
		return pErr
	}
	if x.in.replyTo == "" || w.settings.NoErrorReplies {
		return nil
	}
	rh := maps.Clone(h)
	rh["messageId"] = newMessageID()
	rh["x-eio-error-response"] = true
	rErr := x.publish(ctx, x.in.replyTo, w.properties(rh, []byte(p.Error)))
	if errors.Is(rErr, errUnpublishable) {
		x.log.Warn("the error's copy for reply_to cannot be published; dropped", "err", rErr)
		return nil
	}
	return rErr
}

// logError logs an error event: at info what it is (a LogFielder's fields,
// never free text from the API, which may hold patient data), at debug its
// message.
func (x *execution) logError(err error) {
	var lf component.LogFielder
	if !errors.As(err, &lf) {
		x.log.Info("emitting error", "err", err)
		return
	}
	name := "Error"
	var de component.DescribedError
	if errors.As(err, &de) {
		name = de.ErrorName()
	}
	x.log.Info("emitting error", append([]any{"name", name}, lf.LogFields()...)...)
	x.log.Debug("error detail", "err", err)
}

// errorInput is the input envelope as a base64 AES string: the content
// itself for v1, the raw ciphertext re-encoded for v2.
func (x *execution) errorInput() string {
	if x.d == nil || x.omitInput {
		return ""
	}
	if x.in.protocolVersion < 2 {
		return string(bytes.TrimSpace(x.d.Body))
	}
	return base64Std(x.d.Body)
}

// Rebound implements component.Emitter: republish the input unchanged to
// the rebound key with a growing expiration, or report "Rebound limit
// exceeded" (without failing the input) past REBOUND_LIMIT.
func (x *execution) Rebound(ctx context.Context, reason error) error {
	if err := x.begin(); err != nil {
		return err
	}
	defer x.inflight.Done()
	return x.rebound(ctx, reason)
}

func (x *execution) rebound(ctx context.Context, reason error) error {
	w := x.w
	iter := reboundIterationOf(x.d.Headers)
	if iter > w.settings.ReboundLimit {
		x.log.Warn("rebound limit exceeded", "reboundIteration", iter)
		return x.publishError(ctx, errors.New("Rebound limit exceeded")) //nolint:staticcheck // the official wording
	}
	h := maps.Clone(x.d.Headers)
	if h == nil {
		h = amqp.Table{}
	}
	msg := "Not Available"
	if reason != nil {
		msg = truncate(w.secrets.String(reason.Error()), 1000)
	}
	h["end"] = nowMs()
	h["reboundReason"] = msg
	h["reboundIteration"] = int64(iter)
	exp := reboundExpiration(w.settings.ReboundInitialExpiration, iter)
	x.log.Info("rebounding message", "reboundIteration", iter, "expirationMs", exp.Milliseconds())
	d := x.d
	pub := amqp.Publishing{
		Headers: h, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: d.DeliveryMode, Priority: d.Priority, CorrelationId: d.CorrelationId,
		ReplyTo: d.ReplyTo, Expiration: strconv.FormatInt(exp.Milliseconds(), 10),
		MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type, UserId: d.UserId,
		AppId: d.AppId, Body: d.Body,
	}
	return x.publish(ctx, w.settings.ReboundRoutingKey, pub)
}

// reboundExpiration is 2^(iteration-1) · initial.
func reboundExpiration(initial time.Duration, iteration int) time.Duration {
	if iteration < 1 {
		iteration = 1
	}
	if iteration > 40 {
		iteration = 40
	}
	return initial << uint(iteration-1)
}

// Snapshot implements component.Emitter: replace the in-memory snapshot and
// publish it (plain JSON) to the snapshot key.
func (x *execution) Snapshot(ctx context.Context, snapshot json.RawMessage) error {
	if err := x.begin(); err != nil {
		return err
	}
	defer x.inflight.Done()
	if !json.Valid(snapshot) {
		return errors.New("snapshot: not valid JSON")
	}
	x.w.state.setSnapshot(snapshot)
	if err := waitLimiter(ctx, x.w.snapshotLimiter); err != nil {
		return err
	}
	return x.publishSnapshot(ctx, "snapshot", snapshot)
}

// UpdateSnapshot implements component.Emitter: shallow-merge delta into the
// in-memory snapshot and publish the delta. A $set key is refused.
func (x *execution) UpdateSnapshot(ctx context.Context, delta json.RawMessage) error {
	if err := x.begin(); err != nil {
		return err
	}
	defer x.inflight.Done()
	obj, err := component.SnapshotDelta(delta)
	if err != nil {
		x.log.Warn("updateSnapshot refused", "err", err)
		return err
	}
	x.w.state.mergeSnapshot(obj)
	return x.publishSnapshot(ctx, "updateSnapshot", delta)
}

func (x *execution) publishSnapshot(ctx context.Context, event string, body json.RawMessage) error {
	h := x.w.eventHeaders(&x.in)
	h["snapshotEvent"] = event
	return x.publish(ctx, x.w.settings.SnapshotRoutingKey, x.w.properties(h, x.w.secrets.Bytes(compactJSON(body))))
}

// UpdateKeys implements component.Emitter: store refreshed credential keys
// on the platform account and in the in-memory step config.
func (x *execution) UpdateKeys(ctx context.Context, keys json.RawMessage) error {
	if err := x.begin(); err != nil {
		return err
	}
	defer x.inflight.Done()
	account := x.cfg.String("_account")
	if account == "" {
		return x.fail(ctx, errors.New("updateKeys: the step config has no _account"))
	}
	if err := x.w.platform.putAccountKeys(ctx, account, keys); err != nil {
		return x.fail(ctx, fmt.Errorf("updateKeys: %w", err))
	}
	x.w.state.mergeConfig(keys, x.w.secrets)
	return nil
}

// HTTPReply implements component.Emitter: the reply goes, v1-encoded, to the
// input's reply_to routing key.
func (x *execution) HTTPReply(ctx context.Context, reply component.HTTPReply) error {
	if err := x.begin(); err != nil {
		return err
	}
	defer x.inflight.Done()
	if err := x.httpReply(ctx, reply); err != nil {
		return x.fail(ctx, err)
	}
	return nil
}

func (x *execution) httpReply(ctx context.Context, reply component.HTTPReply) error {
	if x.in.replyTo == "" {
		return errors.New("component emitted 'httpReply' event but 'reply_to' was not found in AMQP headers")
	}
	plain, err := json.Marshal(reply)
	if err != nil {
		return fmt.Errorf("encode httpReply: %w", err)
	}
	body := x.w.seal(plain, 1)
	if err := x.w.checkSize(body); err != nil {
		return err
	}
	h := x.w.eventHeaders(&x.in)
	h["protocolVersion"] = int64(1)
	return x.publish(ctx, x.in.replyTo, x.w.properties(h, body))
}

// seal encrypts an event's plaintext for a protocol version, known secrets
// removed.
func (w *worker) seal(plain []byte, version int) []byte {
	return w.cipher.EncryptMessage(w.secrets.Bytes(plain), version)
}

func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}
