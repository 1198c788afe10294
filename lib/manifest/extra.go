package manifest

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// Extra holds the keys of a descriptor object that its Go type does not
// model, verbatim.
type Extra map[string]json.RawMessage

// Each type below decodes its modelled fields through an alias (which has no
// methods, so no recursion) and keeps the remaining keys in Extra.
type (
	componentAlias   Component
	envVarAlias      EnvVar
	credentialsAlias Credentials
	fieldAlias       Field
	functionAlias    Function
	metadataAlias    Metadata
	schemaAlias      Schema
)

func (c *Component) UnmarshalJSON(b []byte) error {
	return decodeWithExtra(b, (*componentAlias)(c), &c.Extra)
}
func (c Component) MarshalJSON() ([]byte, error) { return encodeWithExtra(componentAlias(c), c.Extra) }

func (e *EnvVar) UnmarshalJSON(b []byte) error {
	return decodeWithExtra(b, (*envVarAlias)(e), &e.Extra)
}
func (e EnvVar) MarshalJSON() ([]byte, error) { return encodeWithExtra(envVarAlias(e), e.Extra) }

func (c *Credentials) UnmarshalJSON(b []byte) error {
	return decodeWithExtra(b, (*credentialsAlias)(c), &c.Extra)
}
func (c Credentials) MarshalJSON() ([]byte, error) {
	return encodeWithExtra(credentialsAlias(c), c.Extra)
}

func (f *Field) UnmarshalJSON(b []byte) error {
	return decodeWithExtra(b, (*fieldAlias)(f), &f.Extra)
}
func (f Field) MarshalJSON() ([]byte, error) { return encodeWithExtra(fieldAlias(f), f.Extra) }

func (f *Function) UnmarshalJSON(b []byte) error {
	return decodeWithExtra(b, (*functionAlias)(f), &f.Extra)
}
func (f Function) MarshalJSON() ([]byte, error) { return encodeWithExtra(functionAlias(f), f.Extra) }

func (m *Metadata) UnmarshalJSON(b []byte) error {
	return decodeWithExtra(b, (*metadataAlias)(m), &m.Extra)
}
func (m Metadata) MarshalJSON() ([]byte, error) { return encodeWithExtra(metadataAlias(m), m.Extra) }

func (s *Schema) UnmarshalJSON(b []byte) error {
	return decodeWithExtra(b, (*schemaAlias)(s), &s.Extra)
}
func (s Schema) MarshalJSON() ([]byte, error) { return encodeWithExtra(schemaAlias(s), s.Extra) }

func decodeWithExtra(b []byte, v any, extra *Extra) error {
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	known := jsonNames(reflect.TypeOf(v).Elem())
	*extra = nil
	for k, raw := range all {
		if !known[k] {
			if *extra == nil {
				*extra = Extra{}
			}
			(*extra)[k] = raw
		}
	}
	return nil
}

func encodeWithExtra(v any, extra Extra) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	for k, raw := range extra {
		if _, modelled := all[k]; !modelled {
			all[k] = raw
		}
	}
	return json.Marshal(all)
}

var namesCache sync.Map // reflect.Type → map[string]bool

// jsonNames returns the JSON keys of t's fields.
func jsonNames(t reflect.Type) map[string]bool {
	if cached, ok := namesCache.Load(t); ok {
		return cached.(map[string]bool)
	}
	names := map[string]bool{}
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
	namesCache.Store(t, names)
	return names
}
