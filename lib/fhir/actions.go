package fhir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/fitbitplus/connector/lib/component"
)

// ToFhirObservationAction is the toFhirObservation action: input
// {metric, patientIdentifier?, output?} (or the metric document itself as
// the body), output one data message whose body is the FHIR R4 Observation,
// or with output "bundle" a transaction Bundle holding it.
var ToFhirObservationAction component.Function = component.FunctionFunc(toFhirObservation)

// FromFhirObservationAction is the fromFhirObservation action: input
// {observation, organization?, identifierSystem?} (or the Observation itself
// as the body), output one data message whose body is the
// createPatientHealthMetric request document {data: {...}}; nothing for an
// Observation this connector made (ErrOwnObservation).
var FromFhirObservationAction component.Function = component.FunctionFunc(fromFhirObservation)

// ToFhirPatientAction is the toFhirPatient action: input {patient,
// identifierSystem?, fitbitIdentifierSystem?, metrics?, output?} (or the
// patient document itself as the body), output one data message whose body
// is the FHIR R4 Patient, or with output "bundle" a transaction Bundle of
// the Patient and the Observations of its metrics.
var ToFhirPatientAction component.Function = component.FunctionFunc(toFhirPatient)

// FromFhirPatientAction is the fromFhirPatient action: input {patient,
// identifierSystem, fitbitIdentifierSystem?, groups}, output one data
// message whose body is the upsertPatient request document.
var FromFhirPatientAction component.Function = component.FunctionFunc(fromFhirPatient)

// Values of the output input field of the to-FHIR actions.
const (
	OutputResource = "resource" // the FHIR resource (default)
	OutputBundle   = "bundle"   // a transaction Bundle safe to post twice
)

// resourceInput is the JSON:API document in body's field, or body itself
// when it is one (a message straight from a fetch action); prefix is what
// names its fields in errors.
func resourceInput(body map[string]any, field string) (raw []byte, prefix string, err error) {
	doc, prefix := body[field], field+"."
	if doc == nil && (body["data"] != nil || body["attributes"] != nil) {
		doc, prefix = body, ""
	}
	raw, err = jsonInput(doc, field)
	return raw, prefix, err
}

func toFhirObservation(ctx context.Context, ex *component.Exec) error {
	body, err := ex.Msg.BodyObject()
	if err != nil {
		return err
	}
	raw, prefix, err := resourceInput(body, "metric")
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
	bundle, err := outputInput(body)
	if err != nil {
		return err
	}
	obs, err := ToObservation(raw, opts)
	if err != nil {
		return prefixField(err, prefix, "patientIdentifier")
	}
	if !bundle {
		return emitJSON(ctx, ex, obs)
	}
	b, err := TransactionBundle(nil, nil, []*Observation{obs})
	if err != nil {
		return prefixField(err, prefix)
	}
	return emitJSON(ctx, ex, b)
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
	if errors.Is(err, ErrOwnObservation) {
		if ex.Log != nil {
			ex.Log.InfoContext(ctx, "observation skipped: this connector made it from a Fitbit Plus metric")
		}
		return nil
	}
	if err != nil {
		return prefixField(err, prefix)
	}
	return emitJSON(ctx, ex, req)
}

func toFhirPatient(ctx context.Context, ex *component.Exec) error {
	body, err := ex.Msg.BodyObject()
	if err != nil {
		return err
	}
	raw, prefix, err := resourceInput(body, "patient")
	if err != nil {
		return err
	}
	var opts PatientOptions
	if err := stringInputs(body, map[string]*string{"identifierSystem": &opts.IdentifierSystem,
		"fitbitIdentifierSystem": &opts.FitbitIdentifierSystem}); err != nil {
		return err
	}
	bundle, err := outputInput(body)
	if err != nil {
		return err
	}
	p, err := ToPatient(raw, opts)
	if err != nil {
		return prefixField(err, prefix)
	}
	metrics, hasMetrics := body["metrics"]
	if !bundle {
		if hasMetrics && metrics != nil {
			return &component.InputError{Field: "metrics", Reason: "only with output bundle: a Patient resource holds no metrics"}
		}
		return emitJSON(ctx, ex, p)
	}
	b, err := PatientBundle(p, opts, metrics)
	if err != nil {
		return err
	}
	return emitJSON(ctx, ex, b)
}

func fromFhirPatient(ctx context.Context, ex *component.Exec) error {
	body, err := ex.Msg.BodyObject()
	if err != nil {
		return err
	}
	raw, err := jsonInput(body["patient"], "patient")
	if err != nil {
		return err
	}
	var opts PatientOptions
	if err := stringInputs(body, map[string]*string{"identifierSystem": &opts.IdentifierSystem,
		"fitbitIdentifierSystem": &opts.FitbitIdentifierSystem}); err != nil {
		return err
	}
	switch g := body["groups"].(type) {
	case nil:
	case string:
		for part := range strings.SplitSeq(g, ",") {
			if part = strings.TrimSpace(part); part != "" {
				opts.Groups = append(opts.Groups, part)
			}
		}
	case []any:
		for i, v := range g {
			s, ok := v.(string)
			if !ok || strings.TrimSpace(s) == "" {
				return &component.InputError{Field: "groups." + strconv.Itoa(i), Reason: "must be a group id"}
			}
			opts.Groups = append(opts.Groups, strings.TrimSpace(s))
		}
	default:
		return &component.InputError{Field: "groups", Reason: "must be comma-separated group ids or a list of them"}
	}
	req, err := FromPatient(raw, opts)
	if err != nil {
		return prefixField(err, "patient.", "identifierSystem", "groups")
	}
	return emitJSON(ctx, ex, req)
}

// stringInputs reads optional string fields of the body.
func stringInputs(body map[string]any, fields map[string]*string) error {
	for name, dst := range fields {
		if v, ok := body[name]; ok && v != nil {
			s, ok := v.(string)
			if !ok {
				return &component.InputError{Field: name, Reason: "must be a string"}
			}
			*dst = strings.TrimSpace(s)
		}
	}
	return nil
}

// outputInput reads the output field: whether a Bundle is asked for.
func outputInput(body map[string]any) (bool, error) {
	switch v := body["output"]; v {
	case nil, "", OutputResource:
		return false, nil
	case OutputBundle:
		return true, nil
	}
	return false, &component.InputError{Field: "output", Reason: fmt.Sprintf("must be %q or %q", OutputResource, OutputBundle)}
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
