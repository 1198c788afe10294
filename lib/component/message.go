package component

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Message is the elastic.io message envelope: the decrypted JSON of an AMQP
// message. Fields the sailor protocol does not name (url, method, query, … of
// webhook messages) are kept verbatim in Extra and written back on output.
type Message struct {
	ID          string                     `json:"id,omitempty"`
	Headers     map[string]any             `json:"headers"`
	Body        json.RawMessage            `json:"body,omitempty"`
	Attachments json.RawMessage            `json:"attachments,omitempty"`
	Passthrough map[string]json.RawMessage `json:"passthrough,omitempty"`
	Extra       map[string]json.RawMessage `json:"-"`
}

var knownFields = map[string]bool{"id": true, "headers": true, "body": true, "attachments": true, "passthrough": true}

// UnmarshalJSON decodes an envelope, keeping unknown top-level fields in Extra.
// A JSON null, or anything other than an object, is an error.
func (m *Message) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("message envelope: %w", err)
	}
	if raw == nil {
		return fmt.Errorf("message envelope: not a JSON object")
	}
	*m = Message{}
	if v, ok := raw["id"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &m.ID); err != nil {
			return fmt.Errorf("message envelope: id: %w", err)
		}
	}
	if v, ok := raw["headers"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &m.Headers); err != nil {
			return fmt.Errorf("message envelope: headers: %w", err)
		}
	}
	if m.Headers == nil {
		m.Headers = map[string]any{}
	}
	if v, ok := raw["body"]; ok {
		m.Body = v
	}
	if v, ok := raw["attachments"]; ok && !isNull(v) {
		m.Attachments = v
	}
	if v, ok := raw["passthrough"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &m.Passthrough); err != nil {
			return fmt.Errorf("message envelope: passthrough: %w", err)
		}
	}
	for k, v := range raw {
		if !knownFields[k] {
			if m.Extra == nil {
				m.Extra = map[string]json.RawMessage{}
			}
			m.Extra[k] = v
		}
	}
	return nil
}

// MarshalJSON encodes the envelope with its Extra fields, keys in sorted
// order (deterministic), raw values compacted, and without HTML escaping
// (links with & stay as the API wrote them).
func (m Message) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(m.Extra)+5)
	for k, v := range m.Extra {
		out[k] = v
	}
	if m.ID != "" {
		out["id"] = m.ID
	}
	if m.Headers == nil {
		out["headers"] = map[string]any{}
	} else {
		out["headers"] = m.Headers
	}
	if len(m.Body) > 0 {
		out["body"] = m.Body
	} else {
		out["body"] = json.RawMessage("{}")
	}
	if len(m.Attachments) > 0 {
		out["attachments"] = m.Attachments
	}
	if m.Passthrough != nil {
		out["passthrough"] = m.Passthrough
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Encode writes the envelope as JSON without HTML escaping (json.Marshal
// would turn the & of every link into \u0026).
func (m *Message) Encode() ([]byte, error) { return m.MarshalJSON() }

// BodyObject decodes the body as a JSON object. An absent or null body is an
// empty object; any other non-object body is an InputError.
func (m *Message) BodyObject() (map[string]any, error) {
	if len(m.Body) == 0 || isNull(m.Body) {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(m.Body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, &InputError{Reason: "message body must be a JSON object"}
	}
	return obj, nil
}

func isNull(b json.RawMessage) bool {
	return string(bytes.TrimSpace(b)) == "null"
}
