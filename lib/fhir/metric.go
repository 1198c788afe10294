package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/fitbitplus/connector/lib/component"
)

// metricResourceType is the JSON:API type of a patient health metric.
const metricResourceType = "patient_health_metric"

// ParseMetric reads one metric from a JSON:API document ({data, meta}), a
// resource ({type, id, attributes, relationships}) or a flat attributes
// object ({type, value, unit, occurred_at, id?, patient?}). Problems are
// *component.InputError with the field path inside raw.
func ParseMetric(raw json.RawMessage) (Metric, error) {
	obj, err := decodeObject(raw)
	if err != nil {
		return Metric{}, &component.InputError{Reason: "metric must be a JSON object"}
	}
	return metricFromObject(obj)
}

func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("not an object")
	}
	return obj, nil
}

func metricFromObject(obj map[string]any) (Metric, error) {
	var m Metric
	path := ""
	if data, ok := obj["data"]; ok {
		if meta, ok := obj["meta"].(map[string]any); ok {
			m.ReqID, _ = meta["req_id"].(string)
		}
		path = "data."
		switch d := data.(type) {
		case map[string]any:
			obj = d
		case []any:
			if len(d) != 1 {
				return m, inputErr("data", "holds %d metrics; give one metric per message", len(d))
			}
			o, ok := d[0].(map[string]any)
			if !ok {
				return m, inputErr("data.0", "must be a JSON:API resource object")
			}
			obj, path = o, "data.0."
		default:
			return m, inputErr("data", "must be a JSON:API resource object")
		}
	}
	attrs, attrPath := obj, path
	if a, ok := obj["attributes"]; ok {
		am, ok := a.(map[string]any)
		if !ok {
			return m, inputErr(path+"attributes", "must be an object")
		}
		if t, _ := obj["type"].(string); t != "" && t != metricResourceType {
			return m, inputErr(path+"type", "is %q, not %s", t, metricResourceType)
		}
		attrs, attrPath = am, path+"attributes."
		if err := readPatientRelationship(obj, path, &m); err != nil {
			return m, err
		}
	} else if p, ok := obj["patient"].(string); ok {
		m.PatientID = p
	}
	m.ID = stringOf(obj["id"])
	m.attrPath = attrPath

	m.Type, _ = attrs["type"].(string)
	if m.Type == "" {
		return m, inputErr(attrPath+"type", "required")
	}
	if _, ok := byType[m.Type]; !ok {
		return m, inputErr(attrPath+"type", "unknown metric type %q", m.Type)
	}
	if c, ok := attrs["code"].(map[string]any); ok {
		cv := CodeValue{System: stringOf(c["system"]), Value: stringOf(c["value"])}
		if cv.Value != "" {
			m.Code = &cv
		}
	}
	var err error
	for _, f := range []struct {
		name string
		dst  *json.Number
	}{{"value", &m.Value}, {"systolic", &m.Systolic}, {"diastolic", &m.Diastolic}} {
		if *f.dst, err = decimal(attrs[f.name]); err != nil {
			return m, inputErr(attrPath+f.name, "%v", err)
		}
	}
	if u, ok := attrs["unit"]; ok && u != nil {
		s, ok := u.(string)
		if !ok {
			return m, inputErr(attrPath+"unit", "must be a string")
		}
		m.Unit = s
	}
	m.OccurredAt, _ = attrs["occurred_at"].(string)
	if m.OccurredAt == "" {
		return m, inputErr(attrPath+"occurred_at", "required")
	}
	if !dateTimeRE.MatchString(m.OccurredAt) {
		return m, inputErr(attrPath+"occurred_at", "is not an ISO 8601 date-time")
	}
	return m, nil
}

func readPatientRelationship(obj map[string]any, path string, m *Metric) error {
	rels, _ := obj["relationships"].(map[string]any)
	patient, _ := rels["patient"].(map[string]any)
	data, _ := patient["data"].(map[string]any)
	if data == nil {
		return nil
	}
	m.PatientID = stringOf(data["id"])
	meta, _ := data["meta"].(map[string]any)
	query, _ := meta["query"].(map[string]any)
	ident, _ := query["identifier"].(map[string]any)
	if ident == nil {
		return nil
	}
	q := PatientQuery{
		Identifier:   Identifier{System: stringOf(ident["system"]), Value: stringOf(ident["value"])},
		Organization: stringOf(query["organization"]),
	}
	if q.Identifier.Value == "" {
		return inputErr(path+"relationships.patient.data.meta.query.identifier.value", "required")
	}
	m.PatientRef = &q
	return nil
}

// decimalRE is the lexical form of a FHIR decimal.
var decimalRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// dateTimeRE is the lexical form of a FHIR dateTime (a time needs a zone).
var dateTimeRE = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)

// decimal reads a JSON number or a numeric string as a FHIR decimal, keeping
// its digits. Absent or null gives "".
func decimal(v any) (json.Number, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return "", nil
	case json.Number:
		s = x.String()
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		s = strings.TrimSpace(x)
		if s == "" {
			return "", nil
		}
	default:
		return "", fmt.Errorf("must be a number")
	}
	if decimalRE.MatchString(s) {
		return json.Number(s), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f || f > 1e300 || f < -1e300 {
		return "", fmt.Errorf("must be a number")
	}
	return json.Number(strconv.FormatFloat(f, 'f', -1, 64)), nil
}

func stringOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

func inputErr(field, format string, args ...any) *component.InputError {
	return &component.InputError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
