package fhir

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// FromOptions tunes FromObservation.
type FromOptions struct {
	// Organization is the Fitbit Plus organization id the patient
	// identifier belongs to (meta.query.organization).
	Organization string
	// IdentifierSystem, when set, replaces subject.identifier.system in the
	// patient query (the EMR's system URI is often not the name Fitbit Plus
	// stores, e.g. "medical-record-number").
	IdentifierSystem string
}

// inboundObservation is what FromObservation reads of an Observation.
type inboundObservation struct {
	ResourceType      string          `json:"resourceType"`
	Status            string          `json:"status"`
	Code              CodeableConcept `json:"code"`
	Subject           *Reference      `json:"subject"`
	EffectiveDateTime string          `json:"effectiveDateTime"`
	EffectiveInstant  string          `json:"effectiveInstant"`
	ValueQuantity     *Quantity       `json:"valueQuantity"`
	ValueInteger      *json.Number    `json:"valueInteger"`
	Component         []struct {
		Code          CodeableConcept `json:"code"`
		ValueQuantity *Quantity       `json:"valueQuantity"`
	} `json:"component"`
}

// pushableStatus are the Observation statuses whose results are pushed.
var pushableStatus = map[string]bool{"final": true, "amended": true, "corrected": true}

// FromObservation maps a FHIR R4 Observation to the createPatientHealthMetric
// request document. The metric type comes from the Fitbit Plus type coding,
// else from a LOINC coding in the table; the patient is addressed by
// relationships.patient.data.meta.query (subject.identifier), or by id when
// the subject is a Fitbit Plus patient id. Unknown codes and units are
// *component.InputError naming them, with fields relative to the Observation.
func FromObservation(raw json.RawMessage, opts FromOptions) (*CreateRequest, error) {
	var obs inboundObservation
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obs); err != nil {
		return nil, inputErr("", "observation is not a FHIR Observation: %v", err)
	}
	if obs.ResourceType != "Observation" {
		return nil, inputErr("resourceType", "is %q, not Observation", obs.ResourceType)
	}
	if !pushableStatus[obs.Status] {
		return nil, inputErr("status", "is %q; only final, amended or corrected results are pushed", obs.Status)
	}
	t, err := observationType(obs.Code)
	if err != nil {
		return nil, err
	}
	patient, err := patientLinkage(obs.Subject, opts)
	if err != nil {
		return nil, err
	}
	occurred := obs.EffectiveDateTime
	field := "effectiveDateTime"
	if occurred == "" {
		occurred, field = obs.EffectiveInstant, "effectiveInstant"
	}
	if occurred == "" {
		return nil, inputErr("effectiveDateTime", "required")
	}
	if !strings.Contains(occurred, "T") || !dateTimeRE.MatchString(occurred) {
		return nil, inputErr(field, "must be a date-time with a time zone")
	}
	attrs := CreateAttributes{Type: t.Type, Code: metricCode(t, obs.Code), OccurredAt: occurred}
	if t.Type == "blood_pressure" {
		if err := bloodPressure(t, obs, &attrs); err != nil {
			return nil, err
		}
	} else {
		q := obs.ValueQuantity
		if q == nil && obs.ValueInteger != nil {
			q = &Quantity{Value: *obs.ValueInteger}
		}
		if q == nil || q.Value == "" {
			return nil, inputErr("valueQuantity", "required for %s", t.Type)
		}
		if q.Comparator != "" {
			return nil, inputErr("valueQuantity.comparator", "a %q result cannot be stored as a Fitbit Plus value", q.Comparator)
		}
		unit, err := quantityUnit(t, *q, "valueQuantity")
		if err != nil {
			return nil, err
		}
		attrs.Value, attrs.Unit = q.Value, unit
	}
	return &CreateRequest{Data: CreateResource{
		Type:          metricResourceType,
		Attributes:    attrs,
		Relationships: CreateRelationships{Patient: PatientRelationship{Data: patient}},
	}}, nil
}

// observationType finds the metric type of Observation.code.
func observationType(code CodeableConcept) (MetricType, error) {
	for _, c := range code.Coding {
		if c.System == MetricTypeSystem {
			t, ok := byType[c.Code]
			if !ok {
				return MetricType{}, inputErr("code", "unknown Fitbit Plus metric type %q", c.Code)
			}
			return *t, nil
		}
	}
	for _, c := range code.Coding {
		if c.System == LOINCSystem {
			if t, ok := byLOINC[c.Code]; ok {
				return *t, nil
			}
		}
	}
	var names []string
	for _, c := range code.Coding {
		names = append(names, c.System+"|"+c.Code)
	}
	if len(names) == 0 {
		return MetricType{}, inputErr("code", "has no coding")
	}
	return MetricType{}, inputErr("code", "no Fitbit Plus metric type for code %s", strings.Join(names, ", "))
}

// metricCode is the code attribute: the Observation's LOINC coding of the
// type (or its first LOINC coding), else the table's LOINC code, else the
// first coding of another system.
func metricCode(t MetricType, code CodeableConcept) *CodeValue {
	var firstLOINC, other *Coding
	for i, c := range code.Coding {
		switch {
		case c.System == LOINCSystem && byLOINC[c.Code] != nil && byLOINC[c.Code].Type == t.Type:
			return &CodeValue{System: "LOINC", Value: c.Code}
		case c.System == LOINCSystem && firstLOINC == nil:
			firstLOINC = &code.Coding[i]
		case c.System != LOINCSystem && c.System != MetricTypeSystem && c.System != "" && c.Code != "" && other == nil:
			other = &code.Coding[i]
		}
	}
	switch {
	case firstLOINC != nil:
		return &CodeValue{System: "LOINC", Value: firstLOINC.Code}
	case t.LOINC != "":
		return &CodeValue{System: "LOINC", Value: t.LOINC}
	case other != nil:
		return &CodeValue{System: fitbitSystem(other.System), Value: other.Code}
	}
	return nil
}

func bloodPressure(t MetricType, obs inboundObservation, attrs *CreateAttributes) error {
	var unitSys, unitDia string
	for i, comp := range obs.Component {
		var dst *json.Number
		var unit *string
		switch {
		case codes(comp.Code, LOINCSystem, systolicLOINC):
			dst, unit = &attrs.Systolic, &unitSys
		case codes(comp.Code, LOINCSystem, diastolicLOINC):
			dst, unit = &attrs.Diastolic, &unitDia
		default:
			continue
		}
		field := "component." + strconv.Itoa(i) + ".valueQuantity"
		if comp.ValueQuantity == nil || comp.ValueQuantity.Value == "" {
			return inputErr(field, "required")
		}
		if comp.ValueQuantity.Comparator != "" {
			return inputErr(field+".comparator", "a %q result cannot be stored as a Fitbit Plus value", comp.ValueQuantity.Comparator)
		}
		u, err := quantityUnit(t, *comp.ValueQuantity, field)
		if err != nil {
			return err
		}
		*dst, *unit = comp.ValueQuantity.Value, u
	}
	if attrs.Systolic == "" {
		return inputErr("component", "has no systolic (LOINC %s) value", systolicLOINC)
	}
	if attrs.Diastolic == "" {
		return inputErr("component", "has no diastolic (LOINC %s) value", diastolicLOINC)
	}
	attrs.Unit = unitSys
	return nil
}

func codes(c CodeableConcept, system, code string) bool {
	for _, cd := range c.Coding {
		if cd.System == system && cd.Code == code {
			return true
		}
	}
	return false
}

// quantityUnit resolves a Quantity's unit (UCUM code, else unit text) to the
// Fitbit Plus spelling, checking that the type accepts it.
func quantityUnit(t MetricType, q Quantity, field string) (string, error) {
	var ucum string
	switch {
	case q.Code != "" && (q.System == UCUMSystem || q.System == ""):
		c, ok := UCUM(q.Code)
		if !ok {
			return "", inputErr(field+".code", "unknown UCUM unit %q", q.Code)
		}
		ucum = c
	case q.Code != "":
		return "", inputErr(field+".system", "unit %q is not in UCUM (system %q)", q.Code, q.System)
	case strings.TrimSpace(q.Unit) != "":
		c, ok := UCUM(q.Unit)
		if !ok {
			return "", inputErr(field+".unit", "unknown unit %q", q.Unit)
		}
		ucum = c
	default:
		if len(t.Units) != 1 {
			return "", inputErr(field+".code", "a unit is required for %s (one of %s)", t.Type, strings.Join(t.Units, ", "))
		}
		ucum = t.Units[0]
	}
	if !t.allowsUnit(ucum) {
		return "", inputErr(field+".code", "unit %q is not a unit of %s (accepted: %s)", ucum, t.Type, strings.Join(t.Units, ", "))
	}
	return fitbitUnit(ucum, q.Unit), nil
}

// patientLinkage addresses the metric's patient: by Fitbit Plus id when the
// subject is one, else by meta.query with the subject's identifier.
func patientLinkage(subject *Reference, opts FromOptions) (PatientLinkage, error) {
	if subject == nil || subject.Identifier == nil || subject.Identifier.Value == "" {
		return PatientLinkage{}, inputErr("subject.identifier", "required: Fitbit Plus finds the patient by identifier")
	}
	id := *subject.Identifier
	if id.System == PatientIDSystem && opts.IdentifierSystem == "" {
		return PatientLinkage{Type: "patient", ID: id.Value}, nil
	}
	if opts.IdentifierSystem != "" {
		id.System = opts.IdentifierSystem
	}
	if id.System == "" {
		return PatientLinkage{}, inputErr("subject.identifier.system", "required (or give identifierSystem)")
	}
	return PatientLinkage{Type: "patient", Meta: &PatientMeta{Query: PatientQuery{Identifier: id, Organization: opts.Organization}}}, nil
}
