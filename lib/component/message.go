package component

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/fitbitplus/connector/lib/jsonstr"
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

	// compactBody is the body SetCompactBody was given: already compact, so
	// the encoder copies it instead of compacting it again, for as long as
	// Body is that very slice.
	compactBody []byte
}

// SetCompactBody sets Body to b, which the caller made with jsonstr.Compact
// or json.Compact (so it is valid and compact): encoding the envelope then
// copies it as is instead of compacting it a second time. Assigning Body
// another slice later restores the ordinary encoding; b must not be changed
// in place.
func (m *Message) SetCompactBody(b []byte) {
	m.Body, m.compactBody = b, b
}

// bodyIsCompact tells whether Body is still the slice SetCompactBody set.
func (m *Message) bodyIsCompact() bool {
	return len(m.Body) > 0 && len(m.Body) == len(m.compactBody) && &m.Body[0] == &m.compactBody[0]
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

// MarshalJSON encodes the envelope with its Extra fields. Keys are written in
// sorted order, so the output is deterministic.
func (m Message) MarshalJSON() ([]byte, error) {
	return m.AppendJSON(make([]byte, 0, m.sizeHint()))
}

// AppendJSON appends what MarshalJSON returns to b.
func (m *Message) AppendJSON(b []byte) ([]byte, error) {
	if out, ok := m.appendEnvelope(b); ok {
		return out, nil
	}
	out, err := m.marshalMap() // the error, worded as encoding/json words it
	if err != nil {
		return nil, err
	}
	return append(b, out...), nil
}

// appendEnvelope writes what marshalMap writes, field by field instead of
// through a map: each raw value is compacted (and so checked) once. It
// reports false on any failure; marshalMap then gives the error.
func (m *Message) appendEnvelope(b []byte) ([]byte, bool) {
	keys := make([]string, 0, len(m.Extra)+5)
	for k := range m.Extra {
		keys = append(keys, k)
	}
	for _, k := range []string{"id", "headers", "body", "attachments", "passthrough"} {
		if _, dup := m.Extra[k]; !dup && m.has(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b = append(b, '{')
	var ok bool
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, k, false)
		b = append(b, ':')
		switch {
		case k == "id" && m.ID != "":
			b = jsonstr.Append(b, m.ID, false)
		case k == "headers":
			if m.Headers == nil {
				b = append(b, "{}"...)
			} else if b, ok = appendValue(b, m.Headers); !ok {
				return nil, false
			}
		case k == "body":
			if len(m.Body) == 0 {
				b = append(b, "{}"...)
			} else if m.bodyIsCompact() {
				b = append(b, m.Body...)
			} else if b, ok = appendRaw(b, m.Body); !ok {
				return nil, false
			}
		case k == "attachments" && len(m.Attachments) > 0:
			if b, ok = appendRaw(b, m.Attachments); !ok {
				return nil, false
			}
		case k == "passthrough" && m.Passthrough != nil:
			if b, ok = appendRawMap(b, m.Passthrough); !ok {
				return nil, false
			}
		default: // an Extra field
			if b, ok = appendRaw(b, m.Extra[k]); !ok {
				return nil, false
			}
		}
	}
	return append(b, '}'), true
}

// has tells whether marshalMap sets the known field k itself.
func (m *Message) has(k string) bool {
	switch k {
	case "id":
		return m.ID != ""
	case "attachments":
		return len(m.Attachments) > 0
	case "passthrough":
		return m.Passthrough != nil
	}
	return true // headers, body
}

func (m *Message) sizeHint() int {
	n := 64 + len(m.ID) + len(m.Body) + len(m.Attachments) + 32*len(m.Headers)
	for k, v := range m.Passthrough {
		n += len(k) + len(v) + 4
	}
	for k, v := range m.Extra {
		n += len(k) + len(v) + 4
	}
	return n
}

// appendRaw appends raw compacted, as encoding/json writes a RawMessage.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, bool) {
	if raw == nil {
		return append(b, "null"...), true
	}
	c, err := jsonstr.Compact(raw)
	if err != nil {
		return nil, false
	}
	return append(b, c...), true
}

func appendRawMap(b []byte, m map[string]json.RawMessage) ([]byte, bool) {
	b = append(b, '{')
	ok := true
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, k, false)
		b = append(b, ':')
		if b, ok = appendRaw(b, m[k]); !ok {
			return nil, false
		}
	}
	return append(b, '}'), true
}

// appendValue appends v as encoding/json writes it without HTML escaping.
func appendValue(b []byte, v any) ([]byte, bool) {
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, false
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), true
}

// marshalMap is the reference encoding: the fields in a map, encoded by
// encoding/json without HTML escaping (links with & stay as the API wrote
// them).
func (m Message) marshalMap() ([]byte, error) {
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
