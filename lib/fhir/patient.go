package fhir

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Patient is the subset of the FHIR R4 Patient resource this package writes
// and reads.
type Patient struct {
	ResourceType string              `json:"resourceType"`
	ID           string              `json:"id,omitempty"`
	Meta         *Meta               `json:"meta,omitempty"`
	Identifier   []PatientIdentifier `json:"identifier,omitempty"`
	Active       *bool               `json:"active,omitempty"`
	Name         []HumanName         `json:"name,omitempty"`
	Telecom      []ContactPoint      `json:"telecom,omitempty"`
	Gender       string              `json:"gender,omitempty"`
	BirthDate    string              `json:"birthDate,omitempty"`
	Address      []Address           `json:"address,omitempty"`
	Link         []PatientLink       `json:"link,omitempty"`
}

// PatientIdentifier is a FHIR Identifier with its type (a medical record
// number is typed MR).
type PatientIdentifier struct {
	Use    string           `json:"use,omitempty"`
	Type   *CodeableConcept `json:"type,omitempty"`
	System string           `json:"system,omitempty"`
	Value  string           `json:"value,omitempty"`
}

// HumanName is a FHIR HumanName.
type HumanName struct {
	Use    string   `json:"use,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
}

// ContactPoint is a FHIR ContactPoint (Patient.telecom).
type ContactPoint struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
	Use    string `json:"use,omitempty"`
	Rank   int    `json:"rank,omitempty"`
}

// Address is a FHIR Address. The Fitbit Plus address has the same parts.
type Address struct {
	Use        string   `json:"use,omitempty"`
	Type       string   `json:"type,omitempty"`
	Text       string   `json:"text,omitempty"`
	Line       []string `json:"line,omitempty"`
	City       string   `json:"city,omitempty"`
	District   string   `json:"district,omitempty"`
	State      string   `json:"state,omitempty"`
	PostalCode string   `json:"postalCode,omitempty"`
	Country    string   `json:"country,omitempty"`
}

// PatientLink is Patient.link.
type PatientLink struct {
	Other Reference `json:"other"`
	Type  string    `json:"type"`
}

// Identifier type of a medical record number (HL7 v2 table 0203).
const (
	IdentifierTypeSystem = "http://terminology.hl7.org/CodeSystem/v2-0203"
	mrnCode              = "MR"
)

// mrnSystems are the Fitbit Plus identifier systems that hold medical
// record numbers (the API's own example names "medical-record-number").
var mrnSystems = []string{"medical-record-number", "mrn"}

// FHIR value sets of the address and telecom codes.
var (
	addressUses  = []string{"home", "work", "temp", "old", "billing"}
	addressTypes = []string{"postal", "physical", "both"}
)

// phoneTypes maps the Fitbit Plus phone number types to ContactPoint system
// and use ("" for none).
var phoneTypes = map[string][2]string{
	"home": {"phone", "home"}, "work": {"phone", "work"}, "mobile": {"phone", "mobile"},
	"home-fax": {"fax", "home"}, "work-fax": {"fax", "work"}, "other": {"phone", ""},
}

// PatientOptions tunes ToPatient and FromPatient.
type PatientOptions struct {
	// IdentifierSystem is the FHIR system of the identifier the EMR matches
	// patients on (e.g. the URI of its medical record numbers). ToPatient
	// writes the patient's Fitbit Plus identifier named FitbitIdentifierSystem
	// under it; FromPatient matches the upsert on the Patient's identifier of
	// this system. Empty in ToPatient: identifiers keep their Fitbit Plus
	// systems and a Bundle matches on the Fitbit Plus id.
	IdentifierSystem string
	// FitbitIdentifierSystem is the name Fitbit Plus stores that identifier
	// under (e.g. medical-record-number). Default: IdentifierSystem.
	FitbitIdentifierSystem string
	// Groups are the Fitbit Plus groups to create or update the patient in
	// (FromPatient).
	Groups []string
	// RequestID is the provenance for meta.source when the patient is a bare
	// resource (ToPatient); a document's own meta.req_id wins.
	RequestID string
}

func (o PatientOptions) fitbitSystem() string {
	return cmp.Or(o.FitbitIdentifierSystem, o.IdentifierSystem)
}

// fitbitPatient is what ToPatient reads of a Fitbit Plus patient resource.
type fitbitPatient struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Attributes struct {
		FirstName    string             `json:"first_name"`
		LastName     string             `json:"last_name"`
		BirthDate    string             `json:"birth_date"`
		Gender       string             `json:"gender"`
		EmailAddress string             `json:"email_address"`
		Archived     *bool              `json:"archived"`
		Identifiers  []FitbitIdentifier `json:"identifiers"`
		PhoneNumbers []PhoneNumber      `json:"phone_numbers"`
		Addresses    []FitbitAddress    `json:"addresses"`
	} `json:"attributes"`
}

// FitbitIdentifier is an identifier of a Fitbit Plus patient.
type FitbitIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
	Label  string `json:"label,omitempty"`
}

// PhoneNumber is a Fitbit Plus phone number.
type PhoneNumber struct {
	Type    string `json:"type"`
	Value   string `json:"value"`
	Primary bool   `json:"primary"`
}

// FitbitAddress is a Fitbit Plus address.
type FitbitAddress struct {
	Use        string   `json:"use,omitempty"`
	Type       string   `json:"type,omitempty"`
	Text       string   `json:"text,omitempty"`
	Lines      []string `json:"lines,omitempty"`
	City       string   `json:"city,omitempty"`
	District   string   `json:"district,omitempty"`
	State      string   `json:"state,omitempty"`
	PostalCode string   `json:"postal_code,omitempty"`
	Country    string   `json:"country,omitempty"`
}

// ToPatient maps a Fitbit Plus patient (a JSON:API document holding one
// patient, as fetchPatient and the patients trigger emit it, a one-patient
// fetchPatients page, or the resource itself) to a FHIR R4 Patient:
// identifiers (the Fitbit Plus id under PatientIDSystem, then each of the
// patient's, medical record numbers typed MR), name, gender, birthDate,
// telecom (phones and e-mail), address, active = not archived, meta.source
// and meta.tag, and a link to the Fitbit Plus record. The coach's note is
// left out on purpose: the API says the patient must not see it, and an EMR
// may show its Patient resources to the patient. Problems are
// *component.InputError naming the field in raw, never its value.
func ToPatient(raw json.RawMessage, opts PatientOptions) (*Patient, error) {
	res, path, reqID, err := patientResource(raw)
	if err != nil {
		return nil, err
	}
	var fp fitbitPatient
	if err := json.Unmarshal(res, &fp); err != nil {
		return nil, patientShapeErr(res, path)
	}
	if fp.Type != "" && fp.Type != "patient" {
		return nil, inputErr(path+"type", "is %q, not patient", fp.Type)
	}
	if fp.ID == "" {
		return nil, inputErr(path+"id", "required: the Fitbit Plus id identifies the patient")
	}
	a := fp.Attributes
	attrPath := path + "attributes."
	p := &Patient{
		ResourceType: "Patient",
		Meta:         sourceMeta(cmp.Or(reqID, opts.RequestID)),
		Identifier:   []PatientIdentifier{{System: PatientIDSystem, Value: fp.ID}},
		Link: []PatientLink{{Type: "seealso",
			Other: Reference{Type: "Patient", Identifier: &Identifier{System: PatientIDSystem, Value: fp.ID},
				Display: "Fitbit Plus patient record"}}},
	}
	matched := opts.IdentifierSystem == ""
	for i, id := range a.Identifiers {
		field := attrPath + "identifiers." + strconv.Itoa(i)
		if id.System == "" || id.Value == "" {
			return nil, inputErr(field, "an identifier needs a system and a value")
		}
		pid := PatientIdentifier{System: id.System, Value: id.Value}
		if !matched && id.System == opts.fitbitSystem() {
			pid.System, matched = opts.IdentifierSystem, true
		}
		if slices.Contains(mrnSystems, strings.ToLower(id.System)) {
			pid.Type = &CodeableConcept{Coding: []Coding{{System: IdentifierTypeSystem, Code: mrnCode, Display: "Medical record number"}}}
		}
		if id.Label != "" {
			if pid.Type == nil {
				pid.Type = &CodeableConcept{}
			}
			pid.Type.Text = id.Label
		}
		p.Identifier = append(p.Identifier, pid)
	}
	if !matched {
		return nil, inputErr(attrPath+"identifiers", "has no identifier of system %q to write under %q", opts.fitbitSystem(), opts.IdentifierSystem)
	}
	if a.Archived != nil {
		active := !*a.Archived
		p.Active = &active
	}
	if a.FirstName != "" || a.LastName != "" {
		n := HumanName{Use: "official", Family: a.LastName}
		if a.FirstName != "" {
			n.Given = []string{a.FirstName}
		}
		p.Name = []HumanName{n}
	}
	switch a.Gender {
	case "", "male", "female", "other":
		p.Gender = a.Gender
	default:
		return nil, inputErr(attrPath+"gender", "is not one of male, female, other")
	}
	if a.BirthDate != "" {
		if _, err := time.Parse(time.DateOnly, a.BirthDate); err != nil {
			return nil, inputErr(attrPath+"birth_date", "is not a date (YYYY-MM-DD)")
		}
		p.BirthDate = a.BirthDate
	}
	for i, ph := range a.PhoneNumbers {
		field := attrPath + "phone_numbers." + strconv.Itoa(i)
		kind, ok := phoneTypes[ph.Type]
		if !ok {
			return nil, inputErr(field+".type", "is not one of home, work, mobile, home-fax, work-fax, other")
		}
		if strings.TrimSpace(ph.Value) == "" {
			return nil, inputErr(field+".value", "required")
		}
		cp := ContactPoint{System: kind[0], Use: kind[1], Value: ph.Value}
		if ph.Primary {
			cp.Rank = 1
		}
		p.Telecom = append(p.Telecom, cp)
	}
	if a.EmailAddress != "" {
		p.Telecom = append(p.Telecom, ContactPoint{System: "email", Value: a.EmailAddress})
	}
	for i, ad := range a.Addresses {
		field := attrPath + "addresses." + strconv.Itoa(i)
		use, typ := strings.ToLower(ad.Use), strings.ToLower(ad.Type)
		if use != "" && !slices.Contains(addressUses, use) {
			return nil, inputErr(field+".use", "is not one of %s", strings.Join(addressUses, ", "))
		}
		if typ != "" && !slices.Contains(addressTypes, typ) {
			return nil, inputErr(field+".type", "is not one of %s", strings.Join(addressTypes, ", "))
		}
		p.Address = append(p.Address, Address{Use: use, Type: typ, Text: ad.Text, Line: ad.Lines, City: ad.City,
			District: ad.District, State: ad.State, PostalCode: ad.PostalCode, Country: ad.Country})
	}
	return p, nil
}

// patientResource finds the patient resource in raw and returns it with its
// path and the document's meta.req_id.
func patientResource(raw json.RawMessage) (res json.RawMessage, path, reqID string, err error) {
	var doc struct {
		Data json.RawMessage `json:"data"`
		Meta struct {
			ReqID string `json:"req_id"`
		} `json:"meta"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return nil, "", "", inputErr("", "patient must be a JSON object")
	}
	if len(doc.Data) == 0 {
		return raw, "", "", nil
	}
	if doc.Data[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(doc.Data, &list) != nil || len(list) != 1 {
			return nil, "", "", inputErr("data", "holds %d patients; give one patient per message", len(list))
		}
		return list[0], "data.0.", doc.Meta.ReqID, nil
	}
	return doc.Data, "data.", doc.Meta.ReqID, nil
}

// patientShapeErr names the first attribute whose JSON type is wrong.
func patientShapeErr(res json.RawMessage, path string) error {
	var r struct {
		Type       any                        `json:"type"`
		Attributes map[string]json.RawMessage `json:"attributes"`
	}
	if json.Unmarshal(res, &r) != nil {
		return inputErr(strings.TrimSuffix(path, "."), "must be a JSON:API patient resource")
	}
	names := make([]string, 0, len(r.Attributes))
	for k := range r.Attributes {
		names = append(names, k)
	}
	slices.Sort(names)
	var probe fitbitPatient
	for _, k := range names {
		one, _ := json.Marshal(map[string]any{"attributes": map[string]json.RawMessage{k: r.Attributes[k]}})
		if json.Unmarshal(one, &probe) != nil {
			return inputErr(path+"attributes."+k, "has the wrong JSON type")
		}
	}
	return inputErr(strings.TrimSuffix(path, "."), "must be a JSON:API patient resource")
}
