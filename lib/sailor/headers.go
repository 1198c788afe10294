package sailor

import (
	"math"
	"strconv"
	"strings"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// incoming is what the worker reads from an input message's AMQP headers.
type incoming struct {
	stepID          string         // the previous step (NO_SELF_PASSTRHOUGH)
	meta            map[string]any // x-eio-meta-* headers, lower-cased names
	threadID        string
	messageID       string
	parentMessageID string
	replyTo         string
	protocolVersion int
	start           int64 // ms epoch when processing started
}

const metaPrefix = "x-eio-meta-"

func readIncoming(h amqp.Table, startMs int64) incoming {
	in := incoming{
		stepID:          headerString(h, "stepId"),
		threadID:        headerString(h, "threadId"),
		messageID:       headerString(h, "messageId"),
		parentMessageID: headerString(h, "parentMessageId"),
		replyTo:         headerString(h, "reply_to"),
		protocolVersion: protocolVersionOf(h),
		start:           startMs,
	}
	for k, v := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, metaPrefix) {
			if in.meta == nil {
				in.meta = map[string]any{}
			}
			in.meta[lk] = v
		}
	}
	if in.threadID == "" {
		if t, ok := in.meta["x-eio-meta-trace-id"].(string); ok && t != "" {
			in.threadID = t
		} else {
			in.threadID = uuid.NewString()
		}
	}
	return in
}

// headerString returns a header as a string; numbers are formatted.
func headerString(h amqp.Table, key string) string {
	switch v := h[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	default:
		if n, ok := headerNumber(v); ok {
			return strconv.FormatFloat(n, 'f', -1, 64)
		}
		return ""
	}
}

// headerNumber reads a numeric AMQP header of any integer width or a float.
func headerNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case int8:
		return float64(n), true
	case uint8:
		return float64(n), true
	case int16:
		return float64(n), true
	case uint16:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case int:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	case amqp.Decimal:
		return float64(n.Value) / math.Pow10(int(n.Scale)), true
	}
	return 0, false
}

// protocolVersionOf reads the header as the official sailor does,
// Number(headers.protocolVersion || 1). Numbers
// of any width, floats and numeric strings are accepted; anything else is 1.
func protocolVersionOf(h amqp.Table) int {
	v := h["protocolVersion"]
	if s, ok := v.(string); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return 1
		}
		v = f
	}
	n, ok := headerNumber(v)
	if !ok || !(n >= 2) { // NaN too
		return 1
	}
	return 2 // every version from 2 on means raw bytes; no int overflow for huge values
}

// reboundIterationOf gives the next rebound iteration: 1 when the header is
// absent or not a number, else the header + 1.
func reboundIterationOf(h amqp.Table) int {
	n, ok := headerNumber(h["reboundIteration"])
	if !ok || !(n >= 0) { // NaN too
		return 1
	}
	// A huge count is past any rebound limit; cap it before converting so it
	// cannot wrap around to a small or negative iteration.
	return int(min(n, maxReboundIteration)) + 1
}

// maxReboundIteration caps the reboundIteration header read back.
const maxReboundIteration = 1 << 20

// eventHeaders builds the headers common to data, error, snapshot and
// httpReply events (docs/protocol.md), with a fresh messageId.
func (w *worker) eventHeaders(in *incoming) amqp.Table {
	h := make(amqp.Table, len(in.meta)+len(w.extraHeaders)+len(w.identityHeaders)+6)
	for k, v := range in.meta {
		h[k] = v
	}
	for k, v := range w.extraHeaders {
		h[k] = v
	}
	if in.replyTo != "" {
		h["reply_to"] = in.replyTo
	}
	if in.messageID != "" {
		h["parentMessageId"] = in.messageID
	}
	h["threadId"] = in.threadID
	h["messageId"] = newMessageID()
	for k, v := range w.identityHeaders {
		h[k] = v
	}
	h["start"] = in.start
	return h
}

// identityHeaders are the step identity from the environment, the same in
// every event.
func identityHeaders(s *Settings) amqp.Table {
	return amqp.Table{
		"execId":      s.ExecID,
		"taskId":      s.FlowID,
		"workspaceId": s.WorkspaceID,
		"containerId": s.ContainerID,
		"userId":      s.UserID,
		"stepId":      s.StepID,
		"compId":      s.CompID,
		"function":    s.Function,
	}
}

// extraHeaders are the ADDITIONAL_VARS_FOR_HEADERS.
func extraHeaders(s *Settings) amqp.Table {
	h := make(amqp.Table, len(s.AdditionalHeaders))
	for k, v := range s.AdditionalHeaders {
		h[k] = v
	}
	return h
}

// initErrorHeaders are the headers of an error reported before any message:
// the step identity and the additional vars.
func (w *worker) initErrorHeaders() amqp.Table {
	h := amqp.Table{}
	for k, v := range w.extraHeaders {
		h[k] = v
	}
	for k, v := range w.identityHeaders {
		h[k] = v
	}
	return h
}

func nowMs() int64 { return timeNow().UnixMilli() }
