package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/fitbitplus/connector/lib/component"
)

// Bundle is a FHIR R4 transaction Bundle.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Entry        []BundleEntry `json:"entry"`
}

// BundleEntry is one entry of a transaction: the resource and how to write
// it.
type BundleEntry struct {
	FullURL  string        `json:"fullUrl"`
	Resource any           `json:"resource"` // *Patient or *Observation
	Request  BundleRequest `json:"request"`
}

// BundleRequest is Bundle.entry.request.
type BundleRequest struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	IfNoneExist string `json:"ifNoneExist,omitempty"`
}

// fullURLSpace is the name space of the entries' fullUrl UUIDs.
var fullURLSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte(SourceURI))

// TransactionBundle makes a transaction Bundle that is safe to post twice:
// every entry is a conditional create (POST with ifNoneExist on the
// resource's identifier), so a second post of the same Bundle, as
// at-least-once delivery may make, creates nothing in a conforming FHIR
// server. Each Observation's subject becomes the conditional reference
// Patient?identifier=system|value of its subject identifier, which must be
// one of patient's identifiers when patient is given (the Bundle then
// carries the patient and their observations), or names a patient the
// server already holds. A Patient is created, never updated: a PUT would
// replace the EMR's whole record with the part of it Fitbit Plus holds.
//
// match is the identifier the Patient entry is matched on (one of its
// identifiers; nil: its Fitbit Plus id). fullUrl is a name-based UUID of
// the entry's identifier, the same on every post. The resources are not
// changed; the Bundle holds copies.
func TransactionBundle(patient *Patient, match *Identifier, observations []*Observation) (*Bundle, error) {
	b := &Bundle{ResourceType: "Bundle", Type: "transaction"}
	seen := map[string]bool{}
	var patientIDs []Identifier
	if patient != nil {
		key, err := patientKey(patient, match)
		if err != nil {
			return nil, err
		}
		for _, id := range patient.Identifier {
			patientIDs = append(patientIDs, Identifier{System: id.System, Value: id.Value})
		}
		p := *patient
		b.Entry = append(b.Entry, entry("Patient", key, &p))
		seen["Patient|"+key.System+"|"+key.Value] = true
	}
	for i, o := range observations {
		field := fmt.Sprintf("observations.%d", i)
		key, ok := metricKey(o)
		if !ok {
			return nil, inputErr(field+".identifier", "required: a Bundle entry is created only if no Observation has its identifier, and this one has none (a metric without an id)")
		}
		if seen["Observation|"+key.System+"|"+key.Value] {
			return nil, inputErr(field, "is the same metric as an earlier entry")
		}
		seen["Observation|"+key.System+"|"+key.Value] = true
		if o.Subject == nil || o.Subject.Identifier == nil || o.Subject.Identifier.System == "" || o.Subject.Identifier.Value == "" {
			return nil, inputErr(field+".subject.identifier", "required with a system: the Observation finds its Patient by identifier")
		}
		subject := *o.Subject.Identifier
		if patient != nil && !containsIdentifier(patientIDs, subject) {
			return nil, inputErr(field+".subject.identifier", "is not an identifier of the Bundle's Patient")
		}
		c := *o
		c.Subject = &Reference{Reference: "Patient?identifier=" + TokenParam(subject), Identifier: &subject}
		b.Entry = append(b.Entry, entry("Observation", key, &c))
	}
	return b, nil
}

func entry(resourceType string, key Identifier, resource any) BundleEntry {
	id := uuid.NewSHA1(fullURLSpace, []byte(resourceType+"|"+key.System+"|"+key.Value))
	return BundleEntry{
		FullURL:  "urn:uuid:" + id.String(),
		Resource: resource,
		Request:  BundleRequest{Method: "POST", URL: resourceType, IfNoneExist: "identifier=" + TokenParam(key)},
	}
}

// patientKey is the identifier a Patient entry is matched on.
func patientKey(p *Patient, match *Identifier) (Identifier, error) {
	want := Identifier{System: PatientIDSystem}
	if match != nil {
		want = *match
	}
	for _, id := range p.Identifier {
		if id.System == want.System && id.Value != "" && (want.Value == "" || id.Value == want.Value) {
			return Identifier{System: id.System, Value: id.Value}, nil
		}
	}
	return Identifier{}, inputErr("patient.identifier", "has no identifier of system %q to match the Patient on", want.System)
}

// metricKey is the identifier an Observation entry is matched on: its
// Fitbit Plus metric id.
func metricKey(o *Observation) (Identifier, bool) {
	for _, id := range o.Identifier {
		if id.System != "" && id.Value != "" {
			return id, true
		}
	}
	return Identifier{}, false
}

func containsIdentifier(ids []Identifier, id Identifier) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// TokenParam writes a FHIR token search value system|value for a search
// URL: the characters FHIR escapes in a token (\ | , $) get a backslash,
// then everything but unreserved characters and : / @ is percent-encoded.
func TokenParam(id Identifier) string {
	return queryEscape(fhirEscape(id.System)) + "|" + queryEscape(fhirEscape(id.Value))
}

func fhirEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `|`, `\|`, `,`, `\,`, `$`, `\$`).Replace(s)
}

func queryEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~:/@", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// PatientBundle makes the transaction Bundle of a patient (from ToPatient
// with the same opts) and their metrics: the Patient, matched on its
// identifier of opts.IdentifierSystem (else its Fitbit Plus id), and one
// Observation per metric whose subject is that identifier. metrics is nil,
// a list of metrics (each as ParseMetric reads it) or a JSON:API collection
// document {data: [...]} such as a fetchPatientHealthMetrics page. A metric
// of another patient is refused.
func PatientBundle(p *Patient, opts PatientOptions, metrics any) (*Bundle, error) {
	match := Identifier{System: PatientIDSystem}
	if opts.IdentifierSystem != "" {
		match.System = opts.IdentifierSystem
	}
	var fitbitID string
	for _, id := range p.Identifier {
		if id.System == PatientIDSystem {
			fitbitID = id.Value
		}
		if id.System == match.System && match.Value == "" {
			match.Value = id.Value
		}
	}
	if match.Value == "" {
		return nil, inputErr("patient", "has no identifier of system %q to match the Patient on", match.System)
	}
	list, reqID, err := metricList(metrics)
	if err != nil {
		return nil, err
	}
	var obs []*Observation
	for i, raw := range list {
		prefix := fmt.Sprintf("metrics.%d.", i)
		m, err := ParseMetric(raw)
		if err != nil {
			return nil, prefixField(err, prefix)
		}
		if m.PatientID != "" && fitbitID != "" && m.PatientID != fitbitID {
			return nil, inputErr(prefix+"relationships.patient", "is another patient's metric")
		}
		o, err := MetricObservation(m, ToOptions{PatientIdentifier: &match, RequestID: reqID})
		if err != nil {
			return nil, prefixField(err, prefix)
		}
		obs = append(obs, o)
	}
	b, err := TransactionBundle(p, &match, obs)
	var ie *component.InputError
	if errors.As(err, &ie) && strings.HasPrefix(ie.Field, "observations.") {
		return nil, inputErr("metrics."+strings.TrimPrefix(ie.Field, "observations."), "%s", ie.Reason)
	}
	return b, err
}

// metricList reads the metrics input of PatientBundle.
func metricList(v any) ([]json.RawMessage, string, error) {
	switch x := v.(type) {
	case nil:
		return nil, "", nil
	case string:
		var parsed any
		if json.Unmarshal([]byte(x), &parsed) != nil {
			return nil, "", inputErr("metrics", "must be a list of metrics or a JSON:API document holding them")
		}
		return metricList(parsed)
	case []any:
		out := make([]json.RawMessage, len(x))
		for i, m := range x {
			b, err := json.Marshal(m)
			if err != nil {
				return nil, "", err
			}
			out[i] = b
		}
		return out, "", nil
	case map[string]any:
		data, ok := x["data"].([]any)
		if !ok {
			return nil, "", inputErr("metrics.data", "must be a list of metric resources")
		}
		list, _, err := metricList(data)
		meta, _ := x["meta"].(map[string]any)
		reqID, _ := meta["req_id"].(string)
		return list, reqID, err
	}
	return nil, "", inputErr("metrics", "must be a list of metrics or a JSON:API document holding them")
}
