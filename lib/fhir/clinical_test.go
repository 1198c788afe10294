package fhir

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// unitProperty is the LOINC property each UCUM unit of the table expresses
// (% is a fraction of mass, volume or substance depending on the analyte).
var unitProperty = map[string][]string{
	"mm[Hg]": {"Pres", "-"}, "%": {"MFr", "VFr"}, "mmol/mol": {"SFr"}, "kg/m2": {"Ratio"},
	"mg/dL": {"MCnc"}, "mg/L": {"MCnc"}, "g/dL": {"MCnc"}, "g/L": {"MCnc"}, "ug/dL": {"MCnc"}, "ug/L": {"MCnc"},
	"ng/dL": {"MCnc"}, "ng/mL": {"MCnc"}, "pg/mL": {"MCnc"},
	"mmol/L": {"SCnc"}, "umol/L": {"SCnc"}, "nmol/L": {"SCnc"}, "pmol/L": {"SCnc"},
	"m[IU]/L": {"ACnc"}, "u[IU]/mL": {"ACnc"}, "{cells}/uL": {"NCnc"}, "/uL": {"NCnc"}, "{copies}/mL": {"NCnc"},
	"{INR}": {"RelTime"}, "/min": {"NRat"}, "{score}": {"Score"},
	"kg": {"Mass"}, "g": {"Mass"}, "[lb_av]": {"Mass"}, "[oz_av]": {"Mass"}, "Cel": {"Temp"}, "[degF]": {"Temp"},
	"L": {"Vol"}, "mL": {"Vol"}, "L/min": {"VRat"}, "L/s": {"VRat"},
}

func TestEveryTermsUnitsFitItsProperty(t *testing.T) {
	for code, term := range loincTerms {
		if !loincCheckDigitOK(code) {
			t.Errorf("%s fails the LOINC check digit", code)
		}
		if term.Name == "" || len(term.Units) == 0 {
			t.Errorf("%s: incomplete term %+v", code, term)
		}
		for _, u := range term.Units {
			if !slices.Contains(unitProperty[u], term.Property) {
				t.Errorf("%s (%s) is a %s, but lists the unit %s (%v)", code, term.Name, term.Property, u, unitProperty[u])
			}
		}
		if _, used := byLOINC[code]; !used && code != systolicLOINC && code != diastolicLOINC {
			t.Errorf("%s is in the vocabulary but no row uses it", code)
		}
	}
}

// metricDoc is a metric resource document with the given attributes.
func metricDoc(attrs map[string]any) json.RawMessage {
	attrs["occurred_at"] = "2024-05-01T08:00:00Z"
	return mustJSON(nil, map[string]any{"data": map[string]any{"type": "patient_health_metric", "id": "m1",
		"attributes":    attrs,
		"relationships": map[string]any{"patient": map[string]any{"data": map[string]any{"type": "patient", "id": "p1"}}}}})
}

func loincCodes(c CodeableConcept) []string {
	var out []string
	for _, cd := range c.Coding {
		if cd.System == LOINCSystem {
			out = append(out, cd.Code)
		}
	}
	return out
}

func TestOutboundCodeFollowsTypeAndUnit(t *testing.T) {
	code := func(sys, v string) map[string]any { return map[string]any{"system": sys, "value": v} }
	cases := []struct {
		name  string
		attrs map[string]any
		want  []string // LOINC codes of Observation.code, in order
		note  string   // part of a note saying a source code was dropped
	}{
		{"weight carrying the heart rate code", map[string]any{"type": "weight", "value": 72, "unit": "kg",
			"code": code("LOINC", "8867-4")}, []string{"29463-7"}, "LOINC 8867-4 (Heart rate), which is not a code of body weight"},
		{"pressure carrying the systolic code", map[string]any{"type": "blood_pressure", "systolic": 120, "diastolic": 80,
			"unit": "mmHg", "code": code("LOINC", "8480-6")}, []string{"85354-9"}, "LOINC 8480-6"},
		{"molar glucose", map[string]any{"type": "blood_glucose", "value": 5.5, "unit": "mmol/L"}, []string{"15074-8"}, ""},
		{"molar glucose under the mass code", map[string]any{"type": "blood_glucose", "value": 5.5, "unit": "mmol/L",
			"code": code("LOINC", "2339-0")}, []string{"15074-8"}, "LOINC 2339-0 (Glucose [Mass/volume] in Blood)"},
		{"mass glucose", map[string]any{"type": "blood_glucose", "value": 99, "unit": "mg/dL"}, []string{"2339-0"}, ""},
		{"serum glucose code kept", map[string]any{"type": "blood_glucose", "value": 99, "unit": "mg/dL",
			"code": code("LOINC", "2345-7")}, []string{"2345-7", "2339-0"}, ""},
		{"IFCC HbA1c", map[string]any{"type": "hemoglobin_a1c", "value": 48, "unit": "mmol/mol",
			"code": code("LOINC", "4548-4")}, []string{"59261-8"}, "LOINC 4548-4"},
		{"NGSP HbA1c", map[string]any{"type": "hemoglobin_a1c", "value": 6.5, "unit": "%"}, []string{"4548-4"}, ""},
		{"molar creatinine", map[string]any{"type": "creatinine", "value": 80, "unit": "umol/L"}, []string{"14682-9"}, ""},
		{"molar HDL", map[string]any{"type": "hdl_cholesterol", "value": 1.3, "unit": "mmol/L"}, []string{"14646-4"}, ""},
		{"molar LDL", map[string]any{"type": "ldl_cholesterol", "value": 2.6, "unit": "mmol/L"}, []string{"22748-8"}, ""},
		{"LDL without method", map[string]any{"type": "ldl_cholesterol", "value": 100, "unit": "mg/dL"}, []string{"2089-1"}, ""},
		{"calculated LDL kept", map[string]any{"type": "ldl_cholesterol", "value": 100, "unit": "mg/dL",
			"code": code("LOINC", "13457-7")}, []string{"13457-7", "2089-1"}, ""},
		{"molar cholesterol", map[string]any{"type": "total_cholesterol", "value": 5.2, "unit": "mmol/L"}, []string{"14647-2"}, ""},
		{"molar triglycerides", map[string]any{"type": "triglycerides", "value": 1.7, "unit": "mmol/L"}, []string{"14927-8"}, ""},
		{"molar urea nitrogen", map[string]any{"type": "blood_urea_nitrogen", "value": 5, "unit": "mmol/L"}, []string{"14937-7"}, ""},
		{"molar hemoglobin", map[string]any{"type": "hemoglobin", "value": 8.5, "unit": "mmol/L"}, []string{"59260-0"}, ""},
		{"hemoglobin g/L", map[string]any{"type": "hemoglobin", "value": 135, "unit": "g/L"}, []string{"718-7"}, ""},
		{"molar iron", map[string]any{"type": "total_serum_iron", "value": 18, "unit": "umol/L"}, []string{"14798-3"}, ""},
		{"molar free T4", map[string]any{"type": "free_thyroxine", "value": 15, "unit": "pmol/L"}, []string{"14920-3"}, ""},
		{"molar free T3", map[string]any{"type": "free_triiodothyronine", "value": 5, "unit": "pmol/L"}, []string{"14928-6"}, ""},
		{"molar total T3", map[string]any{"type": "total_triiodothyronine", "value": 1.8, "unit": "nmol/L"}, []string{"14930-2"}, ""},
		{"molar testosterone", map[string]any{"type": "total_testosterone", "value": 15, "unit": "nmol/L"}, []string{"14913-8"}, ""},
		{"molar free testosterone", map[string]any{"type": "free_testosterone", "value": 300, "unit": "pmol/L"}, []string{"14914-6"}, ""},
		{"molar C-peptide", map[string]any{"type": "c_peptide", "value": 600, "unit": "pmol/L"}, []string{"14633-2"}, ""},
		{"oxygen saturation", map[string]any{"type": "oxygen_saturation", "value": 97, "unit": "%"}, []string{"59408-5", "2708-6"}, ""},
		{"cotinine without specimen", map[string]any{"type": "cotinine", "value": 3, "unit": "ng/mL"}, nil, ""},
		{"urine cotinine from the source", map[string]any{"type": "cotinine", "value": 3, "unit": "ng/mL",
			"code": code("LOINC", "10366-3")}, []string{"10366-3"}, ""},
		{"hematocrit without method", map[string]any{"type": "hematocrit", "value": 42, "unit": "%"}, []string{"20570-8"}, ""},
		{"peak flow without method", map[string]any{"type": "peak_expiratory_flow_rate", "value": 400, "unit": "L/min"}, []string{"33452-4"}, ""},
		{"weight in grams", map[string]any{"type": "weight", "value": 3400, "unit": "g"}, []string{"29463-7"}, ""},
		{"weight in ounces", map[string]any{"type": "weight", "value": 120, "unit": "oz"}, []string{"29463-7"}, ""},
		{"code without system, of another type", map[string]any{"type": "weight", "value": 72, "unit": "kg",
			"code": code("", "8867-4")}, []string{"29463-7"}, "LOINC 8867-4"},
		{"SNOMED code kept as another coding", map[string]any{"type": "weight", "value": 72, "unit": "kg",
			"code": code("SNOMED", "27113001")}, []string{"29463-7"}, ""},
	}
	for _, c := range cases {
		obs, err := ToObservation(metricDoc(c.attrs), ToOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		validateFHIR(t, obs)
		if got := loincCodes(obs.Code); !slices.Equal(got, c.want) {
			t.Errorf("%s: LOINC %v, want %v", c.name, got, c.want)
		}
		var notes []string
		for _, n := range obs.Note {
			notes = append(notes, n.Text)
		}
		dropped := slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "dropped") })
		if c.note != "" && !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, c.note) }) {
			t.Errorf("%s: notes %q, want one containing %q", c.name, notes, c.note)
		}
		if c.note == "" && dropped {
			t.Errorf("%s: unexpected note %q", c.name, notes)
		}
	}
	obs, _ := ToObservation(metricDoc(map[string]any{"type": "weight", "value": 72, "unit": "kg",
		"code": code("SNOMED", "27113001")}), ToOptions{})
	if !codes(obs.Code, SNOMEDSystem, "27113001") {
		t.Errorf("SNOMED coding lost: %+v", obs.Code)
	}
}

// emrObservation is an Observation as an EMR authors it.
func emrObservation(status, code, quantity string, extra string) json.RawMessage {
	return json.RawMessage(`{"resourceType":"Observation","id":"obs-9","status":"` + status + `",
	 "code":{"coding":[` + code + `]},"subject":{"identifier":{"system":"urn:mrn","value":"M1"}},
	 "effectiveDateTime":"2024-01-02T03:04:05Z","valueQuantity":` + quantity + extra + `}`)
}

func ucumQ(v, u string) string {
	return `{"value":` + v + `,"system":"http://unitsofmeasure.org","code":"` + u + `"}`
}

func lnc(c string) string { return `{"system":"http://loinc.org","code":"` + c + `"}` }

func TestInboundAliasesAndTimes(t *testing.T) {
	cases := []struct {
		name, code, quantity, extra string
		typ, loinc, unit, at        string
	}{
		{"heart rate by pulse oximetry", lnc("8889-8"), ucumQ("61", "/min"), "", "heart_rate", "8889-8", "bpm", ""},
		{"oral temperature", lnc("8331-1"), ucumQ("37.1", "Cel"), "", "body_temperature", "8331-1", "degC", ""},
		{"hs-CRP", lnc("30522-7"), ucumQ("1.2", "mg/L"), "", "c_reactive_protein", "30522-7", "mg/L", ""},
		{"hematocrit", lnc("20570-8"), ucumQ("41", "%"), "", "hematocrit", "20570-8", "%", ""},
		{"INR in blood", lnc("34714-6"), ucumQ("2.4", "{INR}"), "", "inr", "34714-6", "INR", ""},
		{"INR in capillary blood", lnc("46418-0"), ucumQ("2.4", "{INR}"), "", "inr", "46418-0", "INR", ""},
		{"peak flow", lnc("33452-4"), ucumQ("420", "L/min"), "", "peak_expiratory_flow_rate", "33452-4", "L/min", ""},
		{"weight in g", lnc("29463-7"), ucumQ("3400", "g"), "", "weight", "29463-7", "g", ""},
		{"weight in oz", lnc("29463-7"), ucumQ("120", "[oz_av]"), "", "weight", "29463-7", "oz", ""},
		{"molar glucose", lnc("15074-8"), ucumQ("5.5", "mmol/L"), "", "blood_glucose", "15074-8", "mmol/L", ""},
		{"IFCC HbA1c", lnc("59261-8"), ucumQ("48", "mmol/mol"), "", "hemoglobin_a1c", "59261-8", "mmol/mol", ""},
		{"oxygen saturation, profile code", lnc("2708-6"), ucumQ("97", "%"), "", "oxygen_saturation", "2708-6", "%", ""},
		{"molar glucose, Fitbit type coding only", `{"system":"` + MetricTypeSystem + `","code":"blood_glucose"}`,
			ucumQ("5.5", "mmol/L"), "", "blood_glucose", "15074-8", "mmol/L", ""},
	}
	for _, c := range cases {
		req, err := FromObservation(emrObservation("final", c.code, c.quantity, c.extra), FromOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		a := req.Data.Attributes
		if a.Type != c.typ || a.Code == nil || a.Code.Value != c.loinc || a.Unit != c.unit {
			t.Errorf("%s: got %s code %+v unit %q", c.name, a.Type, a.Code, a.Unit)
		}
	}

	body := func(effective string) json.RawMessage {
		return json.RawMessage(`{"resourceType":"Observation","status":"final","code":{"coding":[` + lnc("8867-4") + `]},
		 "subject":{"identifier":{"system":"urn:mrn","value":"M1"}},` + effective + `,"valueQuantity":` + ucumQ("60", "/min") + `}`)
	}
	for effective, want := range map[string]string{
		`"effectiveDateTime":"2024-01-02"`: "2024-01-02T12:00:00Z",
		`"effectivePeriod":{"start":"2024-01-02T03:04:05+01:00","end":"2024-01-02T04:00:00+01:00"}`: "2024-01-02T03:04:05+01:00",
		`"effectivePeriod":{"start":"2024-01-02"}`:                                                  "2024-01-02T12:00:00Z",
		`"effectiveInstant":"2024-01-02T03:04:05.123Z"`:                                             "2024-01-02T03:04:05.123Z",
	} {
		req, err := FromObservation(body(effective), FromOptions{})
		if err != nil || req.Data.Attributes.OccurredAt != want {
			t.Errorf("%s: %v %v, want occurred_at %s", effective, req, err, want)
		}
	}
	if _, err := FromObservation(body(`"effectivePeriod":{"end":"2024-01-02"}`), FromOptions{}); !isInputErr(err, "effectivePeriod.start", "required") {
		t.Errorf("period without start: %v", err)
	}
}

func TestInboundCodeContradictions(t *testing.T) {
	typeCoding := func(typ string) string { return `{"system":"` + MetricTypeSystem + `","code":"` + typ + `"}` }
	cases := []struct {
		name, code, quantity, field, want string
	}{
		{"mass glucose code, molar value", lnc("2339-0"), ucumQ("5.5", "mmol/L"), "code", "2339-0"},
		{"percent HbA1c code, IFCC value", lnc("4548-4"), ucumQ("48", "mmol/mol"), "code", "4548-4"},
		{"molar creatinine code, mass value", lnc("14682-9"), ucumQ("1.1", "mg/dL"), "code", "14682-9"},
		{"type coding and another analyte's LOINC", typeCoding("weight") + "," + lnc("8867-4"), ucumQ("72", "kg"), "code", "disagree"},
		{"two analytes' LOINC codes", lnc("29463-7") + "," + lnc("8867-4"), ucumQ("72", "kg"), "code", "disagree"},
	}
	for _, c := range cases {
		_, err := FromObservation(emrObservation("final", c.code, c.quantity, ""), FromOptions{})
		if !isInputErr(err, c.field, c.want) {
			t.Errorf("%s: got %v, want InputError on %s containing %s", c.name, err, c.field, c.want)
		}
	}
}

func TestCorrectionsAndOwnObservations(t *testing.T) {
	own, err := ToObservation(metricDoc(map[string]any{"type": "heart_rate", "value": 61, "unit": "bpm"}), ToOptions{})
	if err != nil {
		t.Fatal(err)
	}
	withStatus := func(o *Observation, status string) json.RawMessage {
		c := *o
		c.Status = status
		return mustJSON(t, c)
	}
	if _, err := FromObservation(withStatus(own, "final"), FromOptions{}); !errors.Is(err, ErrOwnObservation) {
		t.Errorf("own final: %v", err)
	}
	tagOnly := *own
	tagOnly.Identifier = nil
	if _, err := FromObservation(mustJSON(t, tagOnly), FromOptions{}); !errors.Is(err, ErrOwnObservation) {
		t.Errorf("own by tag only: %v", err)
	}
	for _, status := range []string{"amended", "corrected", "entered-in-error"} {
		_, err := FromObservation(withStatus(own, status), FromOptions{})
		var ce *CorrectionError
		if !errors.As(err, &ce) || ce.MetricID != "m1" || !strings.Contains(err.Error(), "metric m1 by hand") ||
			ce.ErrorFields()["metric"] != "m1" {
			t.Errorf("own %s: %v", status, err)
		}
		_, err = FromObservation(emrObservation(status, lnc("15074-8"), ucumQ("5.5", "mmol/L"), ""), FromOptions{})
		if !errors.As(err, &ce) || ce.MetricID != "" || !strings.Contains(err.Error(), "Observation/obs-9") ||
			!strings.Contains(err.Error(), "blood_glucose metric") || ce.ErrorName() != "CorrectionNotApplied" {
			t.Errorf("EMR %s: %v", status, err)
		}
		if strings.Contains(err.Error(), "M1") || strings.Contains(err.Error(), "5.5") {
			t.Errorf("EMR %s: the error shows patient data: %v", status, err)
		}
	}
	if !strings.Contains((&CorrectionError{Status: "entered-in-error", MetricID: "m1"}).Error(), "remove metric m1") {
		t.Errorf("withdrawal must ask to remove the metric")
	}
}
