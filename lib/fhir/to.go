package fhir

import (
	"cmp"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ToOptions tunes ToObservation.
type ToOptions struct {
	// PatientIdentifier, when set, is the Observation's subject (e.g. the
	// EMR's medical record number). Otherwise the subject is the metric's
	// meta.query identifier, or its Fitbit Plus patient id under
	// PatientIDSystem.
	PatientIdentifier *Identifier
	// RequestID is the Fitbit Plus request id (meta.req_id) for the
	// provenance in meta.source when the metric is a bare resource; a
	// document's own meta.req_id wins.
	RequestID string
}

// NoLOINCNote is the start of the note of an Observation whose metric type
// has no LOINC code.
const NoLOINCNote = "No LOINC code"

// ToObservation maps one Fitbit Plus metric (see ParseMetric for the accepted
// shapes) to a FHIR R4 Observation. The metrics trigger can call it per
// metric resource for its FHIR output option.
func ToObservation(raw json.RawMessage, opts ToOptions) (*Observation, error) {
	m, err := ParseMetric(raw)
	if err != nil {
		return nil, err
	}
	return MetricObservation(m, opts)
}

// MetricObservation maps a parsed metric to a FHIR R4 Observation:
// status final, category from the table, code with the LOINC codes of the
// type for the value's unit (see codeOf) plus the Fitbit Plus type coding, valueQuantity in UCUM (blood pressure as one
// panel with systolic and diastolic components), effectiveDateTime =
// occurred_at, subject by identifier, identifier = the Fitbit Plus metric id,
// and meta.source/meta.tag naming Fitbit Plus (with the request id).
func MetricObservation(m Metric, opts ToOptions) (*Observation, error) {
	t, ok := byType[m.Type]
	if !ok {
		return nil, inputErr(m.attrPath+"type", "unknown metric type %q", m.Type)
	}
	subject, err := subjectOf(m, opts)
	if err != nil {
		return nil, err
	}
	ucum, err := metricUnit(*t, m.Unit, m.attrPath)
	if err != nil {
		return nil, err
	}
	unitText := strings.TrimSpace(m.Unit)
	if unitText == "" {
		unitText = ucum
	}
	obs := &Observation{
		ResourceType:      "Observation",
		Meta:              sourceMeta(cmp.Or(m.ReqID, opts.RequestID)),
		Status:            "final",
		Category:          []CodeableConcept{categoryOf(t.Category)},
		Subject:           subject,
		EffectiveDateTime: m.OccurredAt,
	}
	if m.ID != "" {
		obs.Identifier = []Identifier{{System: MetricIDSystem, Value: m.ID}}
	}
	quantity := func(v json.Number) *Quantity {
		return &Quantity{Value: v, Unit: unitText, System: UCUMSystem, Code: ucum}
	}
	switch t.Type {
	case "blood_pressure":
		if m.Systolic == "" {
			return nil, inputErr(m.attrPath+"systolic", "required for blood_pressure")
		}
		if m.Diastolic == "" {
			return nil, inputErr(m.attrPath+"diastolic", "required for blood_pressure")
		}
		obs.Component = []ObservationComponent{
			{Code: loincConcept(systolicLOINC), ValueQuantity: quantity(m.Systolic)},
			{Code: loincConcept(diastolicLOINC), ValueQuantity: quantity(m.Diastolic)},
		}
	default:
		v := m.Value
		if v == "" && t.Type == "blood_pressure_systolic" {
			v = m.Systolic
		}
		if v == "" && t.Type == "blood_pressure_diastolic" {
			v = m.Diastolic
		}
		if v == "" {
			return nil, inputErr(m.attrPath+"value", "required")
		}
		obs.ValueQuantity = quantity(v)
	}
	code, note := codeOf(*t, ucum, m.Code)
	obs.Code = code
	if !hasLOINC(obs.Code) {
		obs.Note = append(obs.Note, Annotation{Text: NoLOINCNote + " is mapped for the Fitbit Plus metric type " + t.Type +
			"; the Observation is coded with the Fitbit Plus type only."})
	}
	if note != "" {
		obs.Note = append(obs.Note, Annotation{Text: note})
	}
	return obs, nil
}

func subjectOf(m Metric, opts ToOptions) (*Reference, error) {
	switch {
	case opts.PatientIdentifier != nil:
		if opts.PatientIdentifier.Value == "" {
			return nil, inputErr("patientIdentifier.value", "required")
		}
		id := *opts.PatientIdentifier
		return &Reference{Identifier: &id}, nil
	case m.PatientRef != nil:
		id := m.PatientRef.Identifier
		return &Reference{Identifier: &id}, nil
	case m.PatientID != "":
		return &Reference{Identifier: &Identifier{System: PatientIDSystem, Value: m.PatientID}}, nil
	}
	return nil, inputErr("patientIdentifier", "required when the metric names no patient")
}

// metricUnit resolves the metric's unit spelling to a UCUM code the type
// accepts. An empty unit is the type's only unit; a type with several
// units needs one.
func metricUnit(t MetricType, spelling, path string) (string, error) {
	if strings.TrimSpace(spelling) == "" {
		if len(t.Units) == 1 {
			return t.Units[0], nil
		}
		return "", inputErr(path+"unit", "required for %s (one of %s)", t.Type, strings.Join(t.Units, ", "))
	}
	code, ok := UCUM(spelling)
	if !ok {
		return "", inputErr(path+"unit", "unknown unit %q", spelling)
	}
	if !t.allowsUnit(code) {
		return "", inputErr(path+"unit", "unit %q is not a unit of %s (accepted: %s)", spelling, t.Type, strings.Join(t.Units, ", "))
	}
	return code, nil
}

func sourceMeta(reqID string) *Meta {
	source := SourceURI
	if reqID != "" {
		source += "#" + url.PathEscape(reqID)
	}
	return &Meta{Source: source, Tag: []Coding{ownTag}}
}

// ownTag marks every resource this connector writes, so that a two-way sync
// recognises its own Observations when the EMR sends them back.
var ownTag = Coding{System: SourceURI + "/tag", Code: "fitbit-plus", Display: "Imported from Fitbit Plus"}

func categoryOf(code string) CodeableConcept {
	return CodeableConcept{Coding: []Coding{{System: CategorySystem, Code: code, Display: categoryDisplay[code]}}}
}

func loincConcept(code string) CodeableConcept {
	d := loincDisplay(code)
	return CodeableConcept{Coding: []Coding{{System: LOINCSystem, Code: code, Display: d}}, Text: d}
}

// codeOf builds Observation.code for a value of type t in the UCUM unit
// ucum: the metric's own LOINC code when it is a code of t whose term fits
// the unit, the table's codes for the unit, the metric's coding of another
// system, and the Fitbit Plus type coding. A LOINC code of the metric that
// names another measure, or another kind of quantity than the unit (a mass
// code beside a molar value), is dropped, since beside the others it would
// read as what the value is; note says so.
func codeOf(t MetricType, ucum string, src *CodeValue) (code CodeableConcept, note string) {
	loinc := t.CodesFor(ucum)
	var other *Coding
	if src != nil {
		term, known := loincTerms[src.Value]
		switch sys := fhirSystem(src.System); {
		case sys == LOINCSystem || sys == "" && known:
			if t.knows(src.Value) && term.accepts(ucum) {
				if !slices.Contains(loinc, src.Value) {
					loinc = append([]string{src.Value}, loinc...)
				}
				break
			}
			note = "The Fitbit Plus metric carried LOINC " + src.Value
			if known {
				note += " (" + term.Name + ")"
			}
			note += ", which is not a code of " + strings.ToLower(t.Title) + " in " + ucum + "; it was dropped."
		case sys == "":
			note = "The Fitbit Plus metric carried the code " + strconv.Quote(src.Value) + " without a code system; it was dropped."
		default:
			other = &Coding{System: sys, Code: src.Value}
		}
	}
	var codings []Coding
	for _, c := range loinc {
		codings = append(codings, Coding{System: LOINCSystem, Code: c, Display: loincDisplay(c)})
	}
	if other != nil {
		codings = append(codings, *other)
	}
	codings = append(codings, Coding{System: MetricTypeSystem, Code: t.Type, Display: t.Title})
	return CodeableConcept{Coding: codings, Text: t.Title}, note
}

func hasLOINC(c CodeableConcept) bool {
	for _, cd := range c.Coding {
		if cd.System == LOINCSystem {
			return true
		}
	}
	return false
}

// fhirSystem maps a Fitbit Plus code system name to a FHIR system URI.
func fhirSystem(s string) string {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "LOINC", strings.ToUpper(LOINCSystem):
		return LOINCSystem
	case "SNOMED", "SNOMED-CT", "SNOMEDCT", "SCT", strings.ToUpper(SNOMEDSystem):
		return SNOMEDSystem
	}
	return strings.TrimSpace(s)
}

// fitbitSystem maps a FHIR system URI to the Fitbit Plus code system name.
func fitbitSystem(s string) string {
	switch s {
	case LOINCSystem:
		return "LOINC"
	case SNOMEDSystem:
		return "SNOMED"
	}
	return s
}
