// Package manifest holds the elastic.io component descriptor (component.json)
// as Go types, with a deterministic encoding: keys sorted at every level,
// two-space indent, no HTML escaping, a trailing newline.
//
// Keys a type does not model are kept in its Extra map and written back, so
// hand-written descriptor parts (an overlay's triggers) survive a round trip.
package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Component is the whole descriptor.
type Component struct {
	Title       string               `json:"title"`
	Description string               `json:"description"`
	DocsURL     string               `json:"docsUrl,omitempty"`
	Version     string               `json:"version,omitempty"`
	BuildType   string               `json:"buildType,omitempty"`
	EnvVars     map[string]*EnvVar   `json:"envVars,omitempty"`
	Credentials *Credentials         `json:"credentials,omitempty"`
	Triggers    map[string]*Function `json:"triggers,omitempty"`
	Actions     map[string]*Function `json:"actions,omitempty"`
	Extra       Extra                `json:"-"`
}

// EnvVar declares a component-level environment variable.
type EnvVar struct {
	Description string `json:"description"`
	Required    bool   `json:"required"`
	Extra       Extra  `json:"-"`
}

// Credentials lists the credential fields a user fills in.
type Credentials struct {
	Fields map[string]*Field `json:"fields"`
	Extra  Extra             `json:"-"`
}

// Field is a credential or step configuration field.
type Field struct {
	Label       string   `json:"label,omitempty"`
	ViewClass   string   `json:"viewClass"`
	Required    bool     `json:"required"`
	Placeholder string   `json:"placeholder,omitempty"`
	Note        string   `json:"note,omitempty"`
	Prompt      string   `json:"prompt,omitempty"`
	Model       any      `json:"model,omitempty"` // select options: array, object, or the name of a model function
	Require     []string `json:"require,omitempty"`
	Order       int      `json:"order,omitempty"`
	Extra       Extra    `json:"-"`
}

// Function is an action or a trigger.
type Function struct {
	Main            string            `json:"main"`
	Title           string            `json:"title"`
	Description     string            `json:"description,omitempty"`
	Type            string            `json:"type,omitempty"` // triggers: "polling" or "webhook"
	Deprecated      bool              `json:"deprecated,omitempty"`
	Fields          map[string]*Field `json:"fields,omitempty"`
	Metadata        *Metadata         `json:"metadata,omitempty"`
	DynamicMetadata bool              `json:"dynamicMetadata,omitempty"`
	Extra           Extra             `json:"-"`
}

// Metadata holds a function's static message schemas.
type Metadata struct {
	In    *Schema `json:"in,omitempty"`
	Out   *Schema `json:"out,omitempty"`
	Extra Extra   `json:"-"`
}

// Schema is a JSON schema in the platform's dialect: a boolean required on
// each property, no $ref, no allOf.
type Schema struct {
	Type        string             `json:"type,omitempty"`
	Title       string             `json:"title,omitempty"`
	Description string             `json:"description,omitempty"`
	Required    bool               `json:"required,omitempty"`
	Enum        []any              `json:"enum,omitempty"`
	Format      string             `json:"format,omitempty"`
	Minimum     *float64           `json:"minimum,omitempty"`
	Maximum     *float64           `json:"maximum,omitempty"`
	MaxLength   *uint64            `json:"maxLength,omitempty"`
	Items       *Schema            `json:"items,omitempty"`
	Properties  map[string]*Schema `json:"properties,omitempty"`
	Extra       Extra              `json:"-"`
}

// Parse decodes a descriptor (or an overlay: a partial descriptor).
func Parse(data []byte) (*Component, error) {
	var c Component
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("parse component descriptor: %w", err)
	}
	return &c, nil
}

// Marshal encodes c deterministically: sorted keys, two-space indent, a
// trailing newline, "<" and ">" written as is.
func Marshal(c *Component) ([]byte, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode component descriptor: %w", err)
	}
	return normalize(raw)
}

// normalize re-encodes JSON with sorted keys (maps sort on encoding) and the
// house layout. Numbers pass through unchanged.
func normalize(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("normalize json: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("normalize json: %w", err)
	}
	return buf.Bytes(), nil
}

// Merge adds the overlay's triggers and actions to c. An overlay action
// that has the name of one of c's actions, or a trigger that clashes with a
// trigger, is an error. Other overlay keys are ignored.
func (c *Component) Merge(overlay *Component) error {
	for _, kind := range []struct {
		name     string
		dst, src *map[string]*Function
	}{{"action", &c.Actions, &overlay.Actions}, {"trigger", &c.Triggers, &overlay.Triggers}} {
		for _, name := range slices.Sorted(maps.Keys(*kind.src)) {
			if _, clash := (*kind.dst)[name]; clash {
				return fmt.Errorf("overlay %s %q: the generated descriptor already has it", kind.name, name)
			}
			if *kind.dst == nil {
				*kind.dst = map[string]*Function{}
			}
			(*kind.dst)[name] = (*kind.src)[name]
		}
	}
	// Top-level keys the generator does not make (sailor_version) come from
	// the overlay as they are.
	for _, k := range slices.Sorted(maps.Keys(overlay.Extra)) {
		if c.Extra == nil {
			c.Extra = Extra{}
		}
		if _, clash := c.Extra[k]; clash {
			return fmt.Errorf("overlay key %q: the generated descriptor already has it", k)
		}
		c.Extra[k] = overlay.Extra[k]
	}
	return nil
}
