package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
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
	ID                string          `json:"id"`
	Meta              *Meta           `json:"meta"`
	Identifier        []Identifier    `json:"identifier"`
	Status            string          `json:"status"`
	Code              CodeableConcept `json:"code"`
	Subject           *Reference      `json:"subject"`
	EffectiveDateTime string          `json:"effectiveDateTime"`
	EffectiveInstant  string          `json:"effectiveInstant"`
	EffectivePeriod   *struct {
		Start string `json:"start"`
	} `json:"effectivePeriod"`
	ValueQuantity *Quantity    `json:"valueQuantity"`
	ValueInteger  *json.Number `json:"valueInteger"`
	Component     []struct {
		Code          CodeableConcept `json:"code"`
		ValueQuantity *Quantity       `json:"valueQuantity"`
	} `json:"component"`
}

// ErrOwnObservation is FromObservation's answer for an Observation this
// connector made from a Fitbit Plus metric (its tag or metric identifier):
// pushing it back would store the value twice, so there is nothing to do.
var ErrOwnObservation = errors.New("the Observation was made by this connector from a Fitbit Plus metric; it is not pushed back")

// FromObservation maps a FHIR R4 Observation with status final to the
// createPatientHealthMetric request document. The metric type comes from
// the Fitbit Plus type coding, else from a LOINC coding in the table; the
// patient is addressed by relationships.patient.data.meta.query
// (subject.identifier), or by id when the subject is a Fitbit Plus patient
// id. Unknown or conflicting codes and units are *component.InputError
// naming them, with fields relative to the Observation; a correction or
// withdrawal is a *CorrectionError; an Observation of this connector's own
// is ErrOwnObservation.
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
	metricID, own := ownObservation(obs)
	switch obs.Status {
	case "final":
		if own {
			return nil, ErrOwnObservation
		}
	case "amended", "corrected", "entered-in-error":
		t, _ := observationType(obs.Code)
		return nil, &CorrectionError{Status: obs.Status, MetricID: metricID, Observation: observationName(obs), MetricType: t.Type}
	default:
		return nil, inputErr("status", "is %q; only final results are pushed", obs.Status)
	}
	t, err := observationType(obs.Code)
	if err != nil {
		return nil, err
	}
	patient, err := patientLinkage(obs.Subject, opts)
	if err != nil {
		return nil, err
	}
	occurred, err := effectiveTime(obs)
	if err != nil {
		return nil, err
	}
	attrs := CreateAttributes{Type: t.Type, OccurredAt: occurred}
	var ucum string
	if t.Type == "blood_pressure" {
		if ucum, err = bloodPressure(t, obs, &attrs); err != nil {
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
		var unit string
		if ucum, unit, err = quantityUnit(t, *q, "valueQuantity"); err != nil {
			return nil, err
		}
		attrs.Value, attrs.Unit = q.Value, unit
	}
	if attrs.Code, err = metricCode(t, obs.Code, ucum); err != nil {
		return nil, err
	}
	return &CreateRequest{Data: CreateResource{
		Type:          metricResourceType,
		Attributes:    attrs,
		Relationships: CreateRelationships{Patient: PatientRelationship{Data: patient}},
	}}, nil
}

// ownObservation tells whether this connector made the Observation (its
// meta.tag or a Fitbit Plus metric identifier), and the metric id if any.
func ownObservation(obs inboundObservation) (metricID string, own bool) {
	for _, id := range obs.Identifier {
		if id.System == MetricIDSystem && id.Value != "" {
			return id.Value, true
		}
	}
	if obs.Meta != nil {
		for _, tag := range obs.Meta.Tag {
			if tag == ownTag {
				return "", true
			}
		}
	}
	return "", false
}

// observationName names an Observation for a person to find it in the EMR:
// its id, else its first identifier.
func observationName(obs inboundObservation) string {
	if obs.ID != "" {
		return "Observation/" + obs.ID
	}
	for _, id := range obs.Identifier {
		if id.Value != "" {
			return "the Observation with identifier " + id.System + "|" + id.Value
		}
	}
	return "the Observation (no id or identifier)"
}

// effectiveTime is occurred_at: effectiveDateTime, effectiveInstant or the
// start of effectivePeriod. A date without a time becomes noon UTC of that
// day, so that the day reads the same in every time zone from UTC-12 to
// UTC+11; a year or a month alone is refused.
func effectiveTime(obs inboundObservation) (string, error) {
	v, field := obs.EffectiveDateTime, "effectiveDateTime"
	switch {
	case v != "":
	case obs.EffectiveInstant != "":
		v, field = obs.EffectiveInstant, "effectiveInstant"
	case obs.EffectivePeriod != nil:
		v, field = obs.EffectivePeriod.Start, "effectivePeriod.start"
		if v == "" {
			return "", inputErr(field, "required: the period's start is when the value was measured")
		}
	default:
		return "", inputErr("effectiveDateTime", "required")
	}
	if !dateTimeRE.MatchString(v) {
		return "", inputErr(field, "is not a FHIR dateTime")
	}
	if strings.Contains(v, "T") {
		return v, nil
	}
	if len(v) != len(time.DateOnly) {
		return "", inputErr(field, "gives only a year or a month; a day at least is needed")
	}
	return v + "T12:00:00Z", nil
}

// observationType finds the metric type of Observation.code: the Fitbit Plus
// type coding, else the LOINC codings the table knows. Codings naming two
// different types are refused: one of them would file the value under the
// wrong meaning.
func observationType(code CodeableConcept) (MetricType, error) {
	var found *MetricType
	var by string
	for _, c := range code.Coding {
		if c.System == MetricTypeSystem {
			t, ok := byType[c.Code]
			if !ok {
				return MetricType{}, inputErr("code", "unknown Fitbit Plus metric type %q", c.Code)
			}
			found, by = t, "the Fitbit Plus type coding"
			break
		}
	}
	for _, c := range code.Coding {
		t, ok := byLOINC[c.Code]
		if c.System != LOINCSystem || !ok {
			continue
		}
		if found == nil {
			found, by = t, "LOINC "+c.Code
			continue
		}
		if t != found {
			return MetricType{}, inputErr("code", "codings disagree: %s is %s, LOINC %s is %s", by, found.Type, c.Code, t.Type)
		}
	}
	if found != nil {
		return *found, nil
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

// metricCode is the code attribute for a value of type t in the UCUM unit
// ucum: the Observation's first LOINC coding of the type, else the table's
// code for the unit, else the first coding of another system. A LOINC
// coding of the type whose property does not fit the unit (a mass code
// beside a molar value) makes the Observation contradict itself: refused.
func metricCode(t MetricType, code CodeableConcept, ucum string) (*CodeValue, error) {
	var first string
	var other *Coding
	for i, c := range code.Coding {
		switch {
		case c.System == LOINCSystem && t.knows(c.Code):
			if term := loincTerms[c.Code]; !term.accepts(ucum) {
				return nil, inputErr("code", "LOINC %s (%s, property %s) does not fit a value in %s", c.Code, term.Name, term.Property, ucum)
			}
			if first == "" {
				first = c.Code
			}
		case c.System != LOINCSystem && c.System != MetricTypeSystem && c.System != "" && c.Code != "" && other == nil:
			other = &code.Coding[i]
		}
	}
	if first == "" {
		if codes := t.CodesFor(ucum); len(codes) > 0 {
			first = codes[0]
		}
	}
	switch {
	case first != "":
		return &CodeValue{System: "LOINC", Value: first}, nil
	case other != nil:
		return &CodeValue{System: fitbitSystem(other.System), Value: other.Code}, nil
	}
	return nil, nil
}

// bloodPressure reads the systolic and diastolic components; it returns
// the UCUM unit of the systolic value.
func bloodPressure(t MetricType, obs inboundObservation, attrs *CreateAttributes) (string, error) {
	var unitSys, unitDia, ucum string
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
			return "", inputErr(field, "required")
		}
		if comp.ValueQuantity.Comparator != "" {
			return "", inputErr(field+".comparator", "a %q result cannot be stored as a Fitbit Plus value", comp.ValueQuantity.Comparator)
		}
		c, u, err := quantityUnit(t, *comp.ValueQuantity, field)
		if err != nil {
			return "", err
		}
		*dst, *unit = comp.ValueQuantity.Value, u
		if dst == &attrs.Systolic {
			ucum = c
		}
	}
	if attrs.Systolic == "" {
		return "", inputErr("component", "has no systolic (LOINC %s) value", systolicLOINC)
	}
	if attrs.Diastolic == "" {
		return "", inputErr("component", "has no diastolic (LOINC %s) value", diastolicLOINC)
	}
	attrs.Unit = unitSys
	return ucum, nil
}

func codes(c CodeableConcept, system, code string) bool {
	for _, cd := range c.Coding {
		if cd.System == system && cd.Code == code {
			return true
		}
	}
	return false
}

// quantityUnit resolves a Quantity's unit (UCUM code, else unit text) to its
// UCUM code and the Fitbit Plus spelling, checking that the type accepts it.
func quantityUnit(t MetricType, q Quantity, field string) (ucum, spelling string, err error) {
	switch {
	case q.Code != "" && (q.System == UCUMSystem || q.System == ""):
		c, ok := UCUM(q.Code)
		if !ok {
			return "", "", inputErr(field+".code", "unknown UCUM unit %q", q.Code)
		}
		ucum = c
	case q.Code != "":
		return "", "", inputErr(field+".system", "unit %q is not in UCUM (system %q)", q.Code, q.System)
	case strings.TrimSpace(q.Unit) != "":
		c, ok := UCUM(q.Unit)
		if !ok {
			return "", "", inputErr(field+".unit", "unknown unit %q", q.Unit)
		}
		ucum = c
	default:
		if len(t.Units) != 1 {
			return "", "", inputErr(field+".code", "a unit is required for %s (one of %s)", t.Type, strings.Join(t.Units, ", "))
		}
		ucum = t.Units[0]
	}
	if !t.allowsUnit(ucum) {
		return "", "", inputErr(field+".code", "unit %q is not a unit of %s (accepted: %s)", ucum, t.Type, strings.Join(t.Units, ", "))
	}
	return ucum, fitbitUnit(ucum, q.Unit), nil
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

// CorrectionError says that an Observation corrects (amended, corrected) or
// withdraws (entered-in-error) a result that Fitbit Plus may already hold.
// The API has no metric update or delete, so the connector does not write a
// second value beside the wrong one: the metric must be fixed by hand, and
// the error names it (or the Observation it was made from). It carries no
// value and no patient identifier.
type CorrectionError struct {
	Status      string // amended, corrected or entered-in-error
	MetricID    string // the Fitbit Plus metric, when the Observation is one of this connector's
	Observation string // how to find the Observation in the EMR
	MetricType  string // "" when the code names no metric type
}

func (e *CorrectionError) Error() string {
	what := "correct"
	if e.Status == "entered-in-error" {
		what = "remove"
	}
	if e.MetricID != "" {
		return fmt.Sprintf("the Observation of Fitbit Plus metric %s has status %s in the EMR; "+
			"Fitbit Plus has no metric update or delete: %s metric %s by hand", e.MetricID, e.Status, what, e.MetricID)
	}
	metric := "the metric"
	if e.MetricType != "" {
		metric = "the " + e.MetricType + " metric"
	}
	return fmt.Sprintf("%s has status %s; Fitbit Plus has no metric update or delete, so nothing is written: "+
		"%s by hand %s pushed from its earlier version, if there is one", e.Observation, e.Status, what, metric)
}

// ErrorName implements component.DescribedError.
func (e *CorrectionError) ErrorName() string { return "CorrectionNotApplied" }

// ErrorFields implements component.DescribedError.
func (e *CorrectionError) ErrorFields() map[string]any {
	f := map[string]any{"field": "status", "status": e.Status}
	if e.MetricID != "" {
		f["metric"] = e.MetricID
	}
	return f
}
