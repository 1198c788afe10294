package fhir

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"github.com/fitbitplus/connector/lib/component"
)

// ToFhirObservationAction is the toFhirObservation action: input
// {metric, patientIdentifier?} (or the metric document itself as the body),
// output one data message whose body is the FHIR R4 Observation.
var ToFhirObservationAction component.Function = component.FunctionFunc(toFhirObservation)

// FromFhirObservationAction is the fromFhirObservation action: input
// {observation, organization?, identifierSystem?} (or the Observation itself
// as the body), output one data message whose body is the
// createPatientHealthMetric request document {data: {...}}.
var FromFhirObservationAction component.Function = component.FunctionFunc(fromFhirObservation)

func toFhirObservation(ctx context.Context, ex *component.Exec) error {
	body, err := ex.Msg.BodyObject()
	if err != nil {
		return err
	}
	metric, prefix := body["metric"], "metric."
	if metric == nil && (body["data"] != nil || body["attributes"] != nil) {
		metric, prefix = body, ""
	}
	raw, err := jsonInput(metric, "metric")
	if err != nil {
		return err
	}
	var opts ToOptions
	if v, ok := body["patientIdentifier"]; ok && v != nil {
		id, err := identifierInput(v, "patientIdentifier")
		if err != nil {
			return err
		}
		opts.PatientIdentifier = id
	}
	obs, err := ToObservation(raw, opts)
	if err != nil {
		return prefixField(err, prefix, "patientIdentifier")
	}
	return emitJSON(ctx, ex, obs)
}

func fromFhirObservation(ctx context.Context, ex *component.Exec) error {
	body, err := ex.Msg.BodyObject()
	if err != nil {
		return err
	}
	observation, prefix := body["observation"], "observation."
	if observation == nil && body["resourceType"] != nil {
		observation, prefix = body, ""
	}
	raw, err := jsonInput(observation, "observation")
	if err != nil {
		return err
	}
	var opts FromOptions
	for _, f := range []struct {
		name string
		dst  *string
	}{{"organization", &opts.Organization}, {"identifierSystem", &opts.IdentifierSystem}} {
		if v, ok := body[f.name]; ok && v != nil {
			s, ok := v.(string)
			if !ok {
				return &component.InputError{Field: f.name, Reason: "must be a string"}
			}
			*f.dst = s
		}
	}
	req, err := FromObservation(raw, opts)
	if err != nil {
		return prefixField(err, prefix)
	}
	return emitJSON(ctx, ex, req)
}

// jsonInput returns the JSON of an object input, or of the JSON text a
// string input holds (a mapper may pass the document as text).
func jsonInput(v any, field string) (json.RawMessage, error) {
	switch x := v.(type) {
	case nil:
		return nil, &component.InputError{Field: field, Reason: "required"}
	case map[string]any:
		return json.Marshal(x)
	case string:
		if _, err := decodeObject([]byte(x)); err != nil {
			return nil, &component.InputError{Field: field, Reason: "must be a JSON object"}
		}
		return json.RawMessage(x), nil
	}
	return nil, &component.InputError{Field: field, Reason: "must be a JSON object"}
}

func identifierInput(v any, field string) (*Identifier, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &component.InputError{Field: field, Reason: "must be an object {system, value}"}
	}
	id := &Identifier{System: stringOf(m["system"]), Value: stringOf(m["value"])}
	if id.Value == "" {
		return nil, &component.InputError{Field: field + ".value", Reason: "required"}
	}
	return id, nil
}

// prefixField puts the input field's path in front of an InputError's field,
// except for fields that are top-level inputs themselves.
func prefixField(err error, prefix string, topLevel ...string) error {
	var ie *component.InputError
	if !errors.As(err, &ie) {
		return err
	}
	for _, t := range topLevel {
		if ie.Field == t || len(ie.Field) > len(t) && ie.Field[:len(t)+1] == t+"." {
			return err
		}
	}
	field := prefix + ie.Field
	if ie.Field == "" && len(prefix) > 0 {
		field = prefix[:len(prefix)-1]
	}
	return &component.InputError{Field: field, Reason: ie.Reason}
}

func emitJSON(ctx context.Context, ex *component.Exec, v any) error {
	out, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return ex.Emit.Data(ctx, &component.Message{ID: uuid.NewString(), Headers: map[string]any{}, Body: out})
}
