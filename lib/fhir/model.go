package fhir

import "encoding/json"

// Observation is the subset of the FHIR R4 Observation resource this package
// writes and reads.
type Observation struct {
	ResourceType      string                 `json:"resourceType"`
	ID                string                 `json:"id,omitempty"`
	Meta              *Meta                  `json:"meta,omitempty"`
	Extension         []Extension            `json:"extension,omitempty"`
	Identifier        []Identifier           `json:"identifier,omitempty"`
	Status            string                 `json:"status"`
	Category          []CodeableConcept      `json:"category,omitempty"`
	Code              CodeableConcept        `json:"code"`
	Subject           *Reference             `json:"subject,omitempty"`
	EffectiveDateTime string                 `json:"effectiveDateTime,omitempty"`
	Issued            string                 `json:"issued,omitempty"`
	ValueQuantity     *Quantity              `json:"valueQuantity,omitempty"`
	Note              []Annotation           `json:"note,omitempty"`
	Device            *Reference             `json:"device,omitempty"`
	Component         []ObservationComponent `json:"component,omitempty"`
}

// Meta is Resource.meta.
type Meta struct {
	Source string   `json:"source,omitempty"`
	Tag    []Coding `json:"tag,omitempty"`
}

// Extension is a FHIR extension with a string or boolean value.
type Extension struct {
	URL          string `json:"url"`
	ValueString  string `json:"valueString,omitempty"`
	ValueBoolean *bool  `json:"valueBoolean,omitempty"`
}

// Identifier is a FHIR Identifier (and the {system, value} of Fitbit Plus).
type Identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

// Coding is a FHIR Coding.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is a FHIR CodeableConcept.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Reference is a FHIR Reference.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Quantity is a FHIR Quantity. Value keeps the decimal as written.
type Quantity struct {
	Value      json.Number `json:"value"`
	Comparator string      `json:"comparator,omitempty"` // read only: "<", "<=", ">=", ">"
	Unit       string      `json:"unit,omitempty"`
	System     string      `json:"system,omitempty"`
	Code       string      `json:"code,omitempty"`
}

// Annotation is a FHIR Annotation (a note).
type Annotation struct {
	Text string `json:"text"`
}

// ObservationComponent is Observation.component.
type ObservationComponent struct {
	Code          CodeableConcept `json:"code"`
	ValueQuantity *Quantity       `json:"valueQuantity,omitempty"`
}

// Metric is a Fitbit Plus patient health metric, as read from a JSON:API
// resource, a document holding one, or a flat attributes object.
type Metric struct {
	ID         string
	Type       string
	Code       *CodeValue  // attributes.code {system, value}
	Value      json.Number // "" when absent
	Systolic   json.Number
	Diastolic  json.Number
	Unit       string
	OccurredAt string
	PatientID  string        // relationships.patient.data.id
	PatientRef *PatientQuery // relationships.patient.data.meta.query
	ReqID      string        // meta.req_id of the document

	attrPath string // where the attributes were read, for error fields
}

// PatientQuery addresses a patient without its Fitbit Plus id.
type PatientQuery struct {
	Identifier   Identifier `json:"identifier"`
	Organization string     `json:"organization,omitempty"`
}

// CreateRequest is the createPatientHealthMetric request document.
type CreateRequest struct {
	Data CreateResource `json:"data"`
}

// CreateResource is the resource of a CreateRequest.
type CreateResource struct {
	Type          string              `json:"type"`
	Attributes    CreateAttributes    `json:"attributes"`
	Relationships CreateRelationships `json:"relationships"`
}

// CreateAttributes are the attributes of a new patient health metric.
type CreateAttributes struct {
	Type       string      `json:"type"`
	Code       *CodeValue  `json:"code,omitempty"`
	Value      json.Number `json:"value,omitempty"`
	Systolic   json.Number `json:"systolic,omitempty"`
	Diastolic  json.Number `json:"diastolic,omitempty"`
	Unit       string      `json:"unit,omitempty"`
	OccurredAt string      `json:"occurred_at"`
}

// CodeValue is the Fitbit Plus code attribute.
type CodeValue struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// CreateRelationships holds the patient relationship of a new metric.
type CreateRelationships struct {
	Patient PatientRelationship `json:"patient"`
}

// PatientRelationship is relationships.patient.
type PatientRelationship struct {
	Data PatientLinkage `json:"data"`
}

// PatientLinkage addresses the patient by id or by meta.query.
type PatientLinkage struct {
	Type string       `json:"type"`
	ID   string       `json:"id,omitempty"`
	Meta *PatientMeta `json:"meta,omitempty"`
}

// PatientMeta is relationships.patient.data.meta.
type PatientMeta struct {
	Query PatientQuery `json:"query"`
}
