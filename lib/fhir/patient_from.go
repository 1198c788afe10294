package fhir

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// UpsertRequest is the upsertPatient request document. The match is given
// twice with the same identifier: in data.meta.query, where swagger.json and
// the sandbox read it, and in the document's meta.query with the groups,
// where the upstream API description puts it.
type UpsertRequest struct {
	Data UpsertResource `json:"data"`
	Meta UpsertMeta     `json:"meta"`
}

// UpsertResource is the patient of an UpsertRequest.
type UpsertResource struct {
	Type          string              `json:"type"`
	Attributes    UpsertAttributes    `json:"attributes"`
	Meta          UpsertMeta          `json:"meta"`
	Relationships UpsertRelationships `json:"relationships"`
}

// UpsertAttributes are the patient attributes FromPatient writes.
type UpsertAttributes struct {
	FirstName    string             `json:"first_name,omitempty"`
	LastName     string             `json:"last_name,omitempty"`
	BirthDate    string             `json:"birth_date,omitempty"`
	Gender       string             `json:"gender,omitempty"`
	EmailAddress string             `json:"email_address,omitempty"`
	Archived     *bool              `json:"archived,omitempty"`
	Identifiers  []FitbitIdentifier `json:"identifiers,omitempty"`
	PhoneNumbers []PhoneNumber      `json:"phone_numbers,omitempty"`
	Addresses    []FitbitAddress    `json:"addresses,omitempty"`
}

// UpsertMeta holds the query that finds the existing patient.
type UpsertMeta struct {
	Query UpsertQuery `json:"query"`
}

// UpsertQuery is meta.query of an upsert.
type UpsertQuery struct {
	Identifier Identifier `json:"identifier"`
	Groups     []string   `json:"groups,omitempty"`
}

// UpsertRelationships are the groups the patient is created or kept in.
type UpsertRelationships struct {
	Groups GroupsRelationship `json:"groups"`
}

// GroupsRelationship is relationships.groups.
type GroupsRelationship struct {
	Data []GroupLinkage `json:"data"`
}

// GroupLinkage is one group of relationships.groups.data.
type GroupLinkage struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// inboundPatient is what FromPatient reads of a Patient.
type inboundPatient struct {
	ResourceType string              `json:"resourceType"`
	Identifier   []PatientIdentifier `json:"identifier"`
	Active       *bool               `json:"active"`
	Name         []HumanName         `json:"name"`
	Telecom      []ContactPoint      `json:"telecom"`
	Gender       string              `json:"gender"`
	BirthDate    string              `json:"birthDate"`
	Address      []Address           `json:"address"`
}

// FromPatient maps a FHIR R4 Patient to the upsertPatient request document
// that creates or updates the Fitbit Plus patient matching the Patient's
// identifier of system opts.IdentifierSystem (stored as
// opts.FitbitIdentifierSystem), in opts.Groups. It writes what the API
// accepts and FHIR has: identifiers (the match first; not the Fitbit Plus id
// itself), the official (else usual, else first) name, gender (unknown is
// left out), birth date, archived = not active, the current phones and the
// preferred e-mail (Fitbit Plus holds one), and the addresses. A Patient
// without the matching identifier, or with a part Fitbit Plus cannot hold
// (a birth date without a day, an identifier without a system), is a
// *component.InputError naming the field, never its value.
func FromPatient(raw json.RawMessage, opts PatientOptions) (*UpsertRequest, error) {
	if opts.IdentifierSystem == "" {
		return nil, inputErr("identifierSystem", "required: the identifier the upsert matches the patient on")
	}
	if len(opts.Groups) == 0 {
		return nil, inputErr("groups", "required: the Fitbit Plus group(s) to create or update the patient in")
	}
	var p inboundPatient
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, inputErr("", "patient is not a FHIR Patient: %v", err)
	}
	if p.ResourceType != "Patient" {
		return nil, inputErr("resourceType", "is %q, not Patient", p.ResourceType)
	}
	fitbitSys := opts.fitbitSystem()
	var match *Identifier
	var a UpsertAttributes
	for i, id := range p.Identifier {
		field := "identifier." + strconv.Itoa(i)
		if id.System == PatientIDSystem {
			continue // the Fitbit Plus id itself, not an identifier Fitbit Plus stores
		}
		if id.System == "" {
			return nil, inputErr(field+".system", "required: Fitbit Plus stores an identifier with its system")
		}
		if id.Value == "" {
			return nil, inputErr(field+".value", "required")
		}
		fi := FitbitIdentifier{System: id.System, Value: id.Value}
		if id.Type != nil {
			fi.Label = id.Type.Text
		}
		if id.System == opts.IdentifierSystem {
			fi.System = fitbitSys
			if match == nil {
				match = &Identifier{System: fitbitSys, Value: id.Value}
			}
		}
		if !slices.ContainsFunc(a.Identifiers, func(x FitbitIdentifier) bool { return x.System == fi.System && x.Value == fi.Value }) {
			a.Identifiers = append(a.Identifiers, fi)
		}
	}
	if match == nil {
		return nil, inputErr("identifier", "has no identifier of system %q: the upsert matches the patient on it", opts.IdentifierSystem)
	}
	if n := preferredName(p.Name); n != nil {
		a.FirstName, a.LastName = strings.Join(n.Given, " "), n.Family
	}
	switch p.Gender {
	case "male", "female", "other":
		a.Gender = p.Gender
	case "", "unknown":
	default:
		return nil, inputErr("gender", "is not one of male, female, other, unknown")
	}
	if p.BirthDate != "" {
		if _, err := time.Parse(time.DateOnly, p.BirthDate); err != nil {
			return nil, inputErr("birthDate", "must be a full date (YYYY-MM-DD): Fitbit Plus holds no partial birth date")
		}
		a.BirthDate = p.BirthDate
	}
	if p.Active != nil {
		archived := !*p.Active
		a.Archived = &archived
	}
	a.EmailAddress = preferredEmail(p.Telecom)
	for _, cp := range p.Telecom {
		if t, ok := phoneType(cp); ok && cp.Use != "old" && cp.Value != "" {
			a.PhoneNumbers = append(a.PhoneNumbers, PhoneNumber{Type: t, Value: cp.Value, Primary: cp.Rank == 1})
		}
	}
	for _, ad := range p.Address {
		a.Addresses = append(a.Addresses, FitbitAddress{Use: ad.Use, Type: ad.Type, Text: ad.Text, Lines: ad.Line,
			City: ad.City, District: ad.District, State: ad.State, PostalCode: ad.PostalCode, Country: ad.Country})
	}
	groups := make([]GroupLinkage, len(opts.Groups))
	for i, g := range opts.Groups {
		groups[i] = GroupLinkage{Type: "group", ID: g}
	}
	return &UpsertRequest{
		Data: UpsertResource{Type: "patient", Attributes: a, Meta: UpsertMeta{Query: UpsertQuery{Identifier: *match}},
			Relationships: UpsertRelationships{Groups: GroupsRelationship{Data: groups}}},
		Meta: UpsertMeta{Query: UpsertQuery{Identifier: *match, Groups: slices.Clone(opts.Groups)}},
	}, nil
}

func preferredName(names []HumanName) *HumanName {
	for _, use := range []string{"official", "usual"} {
		for i := range names {
			if names[i].Use == use {
				return &names[i]
			}
		}
	}
	for i := range names {
		if names[i].Use != "old" {
			return &names[i]
		}
	}
	return nil
}

// preferredEmail is the current e-mail address of lowest rank (unranked
// after ranked), the first of them on a tie.
func preferredEmail(telecom []ContactPoint) string {
	best, bestRank := "", 0
	for _, cp := range telecom {
		if cp.System != "email" || cp.Use == "old" || cp.Value == "" {
			continue
		}
		rank := cp.Rank
		if rank <= 0 {
			rank = 1 << 30
		}
		if best == "" || rank < bestRank {
			best, bestRank = cp.Value, rank
		}
	}
	return best
}

// phoneType is the Fitbit Plus phone number type of a ContactPoint, if it
// is a phone, a text-message number or a fax.
func phoneType(cp ContactPoint) (string, bool) {
	switch cp.System {
	case "phone":
		switch cp.Use {
		case "home", "work", "mobile":
			return cp.Use, true
		}
		return "other", true
	case "sms":
		return "mobile", true
	case "fax":
		switch cp.Use {
		case "home", "work":
			return cp.Use + "-fax", true
		}
		return "other", true
	}
	return "", false
}
