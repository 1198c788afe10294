package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fitbitplus/connector/lib/component"
)

// apiTypes is the PatientHealthMetricResource.type enum of the API, in order.
var apiTypes = []string{"blood_pressure_systolic", "blood_pressure_diastolic", "hemoglobin_a1c",
	"hdl_cholesterol", "ldl_cholesterol", "total_cholesterol", "triglycerides", "blood_urea_nitrogen",
	"creatinine", "hemoglobin", "hematocrit", "total_serum_iron", "thyroid_stimulating_hormone",
	"free_thyroxine", "free_triiodothyronine", "total_triiodothyronine", "cd4_cell_count", "hiv_viral_load",
	"inr", "free_testosterone", "total_testosterone", "c_reactive_protein", "prostate_specific_antigen",
	"cotinine", "c_peptide", "blood_pressure", "blood_glucose", "weight", "heart_rate", "body_fat_percentage",
	"body_mass_index", "body_temperature", "forced_expiratory_volume1", "forced_vital_capacity",
	"lean_body_mass", "nausea_level", "oxygen_saturation", "pain_level", "peak_expiratory_flow_rate",
	"peripheral_perfusion_index", "respiratory_rate", "inhaler_usage"}

// noLOINC are the types deliberately left without a LOINC code.
var noLOINC = map[string]bool{"nausea_level": true, "peripheral_perfusion_index": true, "inhaler_usage": true,
	"cotinine": true}

// loincCheckDigitOK verifies the mod-10 check digit of a LOINC code.
func loincCheckDigitOK(code string) bool {
	body, check, ok := strings.Cut(code, "-")
	if !ok || len(check) != 1 || body == "" {
		return false
	}
	sum := 0
	for i := 0; i < len(body); i++ {
		d := int(body[len(body)-1-i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return int(check[0]-'0') == (10-sum%10)%10
}

func TestTableMatchesAPIEnum(t *testing.T) {
	if len(Types) != 42 || len(apiTypes) != 42 {
		t.Fatalf("table has %d rows, API enum %d; want 42", len(Types), len(apiTypes))
	}
	for i, row := range Types {
		if row.Type != apiTypes[i] {
			t.Errorf("row %d is %s, API enum has %s", i, row.Type, apiTypes[i])
		}
		if row.HasLOINC() == noLOINC[row.Type] {
			t.Errorf("%s: HasLOINC=%v, want %v", row.Type, row.HasLOINC(), !noLOINC[row.Type])
		}
		if row.Title == "" || categoryDisplay[row.Category] == "" || len(row.Units) == 0 {
			t.Errorf("%s: incomplete row %+v", row.Type, row)
		}
		for _, u := range row.Units {
			if c, ok := UCUM(u); !ok || c != u {
				t.Errorf("%s: unit %q is not a UCUM code of the unit table", row.Type, u)
			}
			if row.HasLOINC() && len(row.CodesFor(u)) == 0 {
				t.Errorf("%s: no LOINC code for a value in %s", row.Type, u)
			}
		}
		for _, c := range slices.Concat(row.LOINC, row.Aliases) {
			term, ok := loincTerms[c]
			if !ok || term.Name == "" {
				t.Errorf("%s: LOINC %s has no term", row.Type, c)
			}
			if !slices.ContainsFunc(term.Units, row.allowsUnit) {
				t.Errorf("%s: LOINC %s fits none of the type's units", row.Type, c)
			}
		}
	}
}

func TestLOINCCodesAreWellFormedAndUnique(t *testing.T) {
	if !loincCheckDigitOK("8480-6") || loincCheckDigitOK("8480-5") {
		t.Fatal("check digit algorithm is wrong")
	}
	seen := map[string]string{}
	for _, row := range Types {
		for _, code := range slices.Concat(row.LOINC, row.Aliases) {
			if !loincCheckDigitOK(code) {
				t.Errorf("%s: %s fails the LOINC check digit", row.Type, code)
			}
			if other, dup := seen[code]; dup {
				t.Errorf("%s: %s already used by %s", row.Type, code, other)
			}
			seen[code] = row.Type
		}
	}
}

func TestUnitSpellingsDoNotCollide(t *testing.T) {
	keys := map[string]string{}
	for spelling, code := range unitSpellings {
		k := unitKey(spelling)
		if prev, ok := keys[k]; ok && prev != code {
			t.Errorf("%q maps to %s and %s", k, prev, code)
		}
		keys[k] = code
	}
	for in, want := range map[string]string{"mg/dl": "mg/dL", "lbs": "[lb_av]", "lb": "[lb_av]", "bpm": "/min",
		"beats/min": "/min", "mmHg": "mm[Hg]", "°F": "[degF]", "degF": "[degF]", "Cel": "Cel", " KG ": "kg"} {
		if got, ok := UCUM(in); !ok || got != want {
			t.Errorf("UCUM(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for code := range fitbitUnits {
		if c, ok := UCUM(fitbitUnits[code]); !ok || c != code {
			t.Errorf("preferred spelling %q of %s does not map back", fitbitUnits[code], code)
		}
	}
}

// sampleMetric builds a metric document of type row as the Fitbit Plus API
// returns it (fetchPatientHealthMetric).
func sampleMetric(row MetricType) map[string]any {
	attrs := map[string]any{
		"type":        row.Type,
		"unit":        fitbitUnit(row.Units[0], ""),
		"occurred_at": "2017-03-14T11:00:57.000Z",
	}
	if codes := row.CodesFor(row.Units[0]); len(codes) > 0 {
		attrs["code"] = map[string]any{"system": "LOINC", "value": codes[0]}
	}
	if row.Type == "blood_pressure" {
		attrs["systolic"], attrs["diastolic"] = json.Number("121"), json.Number("79")
	} else {
		attrs["value"] = "12.5" // the API's example writes values as strings
	}
	return map[string]any{
		"data": map[string]any{
			"type":       "patient_health_metric",
			"id":         "5a1b2c3d4e5f-" + row.Type,
			"attributes": attrs,
			"relationships": map[string]any{"patient": map[string]any{
				"data": map[string]any{"type": "patient", "id": "58c4554710123c5c40dbab81"}}},
		},
		"meta": map[string]any{"req_id": "req-42"},
	}
}

// foreign is obs as an EMR would author it: without this connector's tag
// and metric identifier.
func foreign(obs *Observation) *Observation {
	c := *obs
	c.Meta, c.Identifier = nil, nil
	return &c
}

// mustJSON marshals v; t may be nil while building test tables.
func mustJSON(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		if t == nil {
			panic(err)
		}
		t.Helper()
		t.Fatal(err)
	}
	return b
}

func TestAllTypesToObservationAndBack(t *testing.T) {
	for _, row := range Types {
		t.Run(row.Type, func(t *testing.T) {
			doc := sampleMetric(row)
			obs, err := ToObservation(mustJSON(t, doc), ToOptions{})
			if err != nil {
				t.Fatalf("ToObservation: %v", err)
			}
			validateFHIR(t, obs)

			if obs.Status != "final" || obs.EffectiveDateTime != "2017-03-14T11:00:57.000Z" {
				t.Errorf("status %q effective %q", obs.Status, obs.EffectiveDateTime)
			}
			if got := obs.Category[0].Coding[0]; got.System != CategorySystem || got.Code != row.Category {
				t.Errorf("category %+v, want %s", got, row.Category)
			}
			if obs.Identifier[0] != (Identifier{MetricIDSystem, "5a1b2c3d4e5f-" + row.Type}) {
				t.Errorf("identifier %+v", obs.Identifier)
			}
			if *obs.Subject.Identifier != (Identifier{PatientIDSystem, "58c4554710123c5c40dbab81"}) {
				t.Errorf("subject %+v", obs.Subject.Identifier)
			}
			if obs.Meta.Source != SourceURI+"#req-42" {
				t.Errorf("meta.source %q", obs.Meta.Source)
			}
			if !codes(obs.Code, MetricTypeSystem, row.Type) {
				t.Errorf("no Fitbit Plus type coding in %+v", obs.Code)
			}
			if row.HasLOINC() {
				for _, c := range row.CodesFor(row.Units[0]) {
					if !codes(obs.Code, LOINCSystem, c) || len(obs.Note) != 0 {
						t.Errorf("code %+v note %+v, want LOINC %s and no note", obs.Code, obs.Note, c)
					}
				}
			} else if hasLOINC(obs.Code) || len(obs.Note) != 1 || !strings.HasPrefix(obs.Note[0].Text, NoLOINCNote) {
				t.Errorf("LOINC-less type: code %+v note %+v", obs.Code, obs.Note)
			}
			if row.Type == "blood_pressure" {
				if obs.ValueQuantity != nil || len(obs.Component) != 2 ||
					!codes(obs.Component[0].Code, LOINCSystem, systolicLOINC) || obs.Component[0].ValueQuantity.Value != "121" ||
					!codes(obs.Component[1].Code, LOINCSystem, diastolicLOINC) || obs.Component[1].ValueQuantity.Value != "79" ||
					obs.Component[0].ValueQuantity.Code != "mm[Hg]" {
					t.Errorf("blood pressure panel: %s", mustJSON(t, obs))
				}
			} else if q := obs.ValueQuantity; q == nil || q.Value != "12.5" || q.System != UCUMSystem || q.Code != row.Units[0] {
				t.Errorf("valueQuantity %+v, want 12.5 %s", q, row.Units[0])
			}

			if _, err := FromObservation(mustJSON(t, obs), FromOptions{}); !errors.Is(err, ErrOwnObservation) {
				t.Errorf("own Observation read back: %v, want ErrOwnObservation", err)
			}
			req, err := FromObservation(mustJSON(t, foreign(obs)), FromOptions{})
			if err != nil {
				t.Fatalf("FromObservation: %v", err)
			}
			in := doc["data"].(map[string]any)["attributes"].(map[string]any)
			out := req.Data.Attributes
			if out.Type != row.Type || out.OccurredAt != in["occurred_at"] || out.Unit != in["unit"] {
				t.Errorf("round trip: got type %s at %s unit %q; want %v", out.Type, out.OccurredAt, out.Unit, in)
			}
			if row.HasLOINC() && (out.Code == nil || *out.Code != (CodeValue{"LOINC", row.CodesFor(row.Units[0])[0]})) {
				t.Errorf("round trip code %+v, want LOINC %v", out.Code, row.CodesFor(row.Units[0]))
			}
			if !row.HasLOINC() && out.Code != nil {
				t.Errorf("round trip invented code %+v", out.Code)
			}
			if row.Type == "blood_pressure" {
				if out.Systolic != "121" || out.Diastolic != "79" || out.Value != "" {
					t.Errorf("round trip pressure %+v", out)
				}
			} else if out.Value != "12.5" {
				t.Errorf("round trip value %q", out.Value)
			}
			if p := req.Data.Relationships.Patient.Data; p.ID != "58c4554710123c5c40dbab81" || p.Meta != nil || p.Type != "patient" {
				t.Errorf("patient linkage %+v", p)
			}
			if req.Data.Type != "patient_health_metric" {
				t.Errorf("resource type %q", req.Data.Type)
			}
		})
	}
}

// seedRequest is the createPatientHealthMetric example of the API
// documentation (value as a number: the documentation quotes it).
const seedRequest = `{"data":{"type":"patient_health_metric","attributes":{"type":"ldl_cholesterol",
 "code":{"system":"LOINC","value":"13457-7"},"value":121,"unit":"mg/dl","occurred_at":"2017-03-14T11:00:57.000Z"},
 "relationships":{"patient":{"data":{"type":"patient","meta":{"query":{"identifier":{"system":"medical-record-number",
 "value":"121212"},"organization":"58c4554710123c5c40dbab81"}}}}}}}`

func TestEMRResultToRequestDocument(t *testing.T) {
	// An LDL result from an EMR: LOINC only, patient by MRN under a URI system.
	obs := `{"resourceType":"Observation","status":"final",
	 "category":[{"coding":[{"system":"` + CategorySystem + `","code":"laboratory"}]}],
	 "code":{"coding":[{"system":"http://loinc.org","code":"13457-7"}]},
	 "subject":{"identifier":{"system":"urn:oid:1.2.36.146.595.217.0.1","value":"121212"}},
	 "effectiveDateTime":"2017-03-14T11:00:57.000Z",
	 "valueQuantity":{"value":121,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}}`
	req, err := FromObservation(json.RawMessage(obs), FromOptions{
		Organization: "58c4554710123c5c40dbab81", IdentifierSystem: "medical-record-number"})
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(mustJSON(t, req), &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(seedRequest), &want); err != nil {
		t.Fatal(err)
	}
	// The EMR spells mg/dL; the Fitbit Plus spelling of the same code is kept
	// only when the text already is one: here "mg/dL" is, so it stays.
	want.(map[string]any)["data"].(map[string]any)["attributes"].(map[string]any)["unit"] = "mg/dL"
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("request document\n got %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
	}
}

func TestSeedMetricRoundTripByIdentifier(t *testing.T) {
	// The API's own example, read back as a metric: subject is its MRN.
	obs, err := ToObservation(json.RawMessage(strings.Replace(seedRequest, `"value":121`, `"value":"121"`, 1)), ToOptions{})
	if err != nil {
		t.Fatal(err)
	}
	validateFHIR(t, obs)
	if *obs.Subject.Identifier != (Identifier{"medical-record-number", "121212"}) || obs.Identifier != nil {
		t.Errorf("subject %+v identifier %+v", obs.Subject, obs.Identifier)
	}
	if q := obs.ValueQuantity; q.Value != "121" || q.Unit != "mg/dl" || q.Code != "mg/dL" {
		t.Errorf("valueQuantity %+v", q)
	}
	req, err := FromObservation(mustJSON(t, foreign(obs)), FromOptions{Organization: "58c4554710123c5c40dbab81"})
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	_ = json.Unmarshal(mustJSON(t, req), &got)
	_ = json.Unmarshal([]byte(seedRequest), &want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("round trip\n got %s\nwant %s", mustJSON(t, got), seedRequest)
	}
}

func TestPatientIdentifierOptionAndFlatInput(t *testing.T) {
	flat := `{"type":"weight","value":81.4,"unit":"kg","occurred_at":"2024-05-01T07:30:00+02:00"}`
	if _, err := ToObservation(json.RawMessage(flat), ToOptions{}); !isInputErr(err, "patientIdentifier", "") {
		t.Errorf("no patient: %v", err)
	}
	obs, err := ToObservation(json.RawMessage(flat), ToOptions{PatientIdentifier: &Identifier{"urn:oid:1.2.3", "MRN-7"}})
	if err != nil {
		t.Fatal(err)
	}
	validateFHIR(t, obs)
	if *obs.Subject.Identifier != (Identifier{"urn:oid:1.2.3", "MRN-7"}) || obs.ValueQuantity.Value != "81.4" ||
		obs.ValueQuantity.Code != "kg" || obs.Meta.Source != SourceURI {
		t.Errorf("observation %s", mustJSON(t, obs))
	}
	// A bare resource (as the metrics trigger holds it) with the page's request id.
	res := `{"type":"patient_health_metric","id":"m1","attributes":` + flat + `,"relationships":{"patient":{"data":{"type":"patient","id":"p1"}}}}`
	obs, err = ToObservation(json.RawMessage(res), ToOptions{RequestID: "r 1"})
	if err != nil {
		t.Fatal(err)
	}
	validateFHIR(t, obs)
	if obs.Meta.Source != SourceURI+"#r%201" || obs.Subject.Identifier.Value != "p1" || obs.Identifier[0].Value != "m1" {
		t.Errorf("observation %s", mustJSON(t, obs))
	}
}

func TestInboundVariants(t *testing.T) {
	subject := `"subject":{"identifier":{"system":"mrn","value":"1"}},"effectiveDateTime":"2024-01-02T03:04:05Z"`
	cases := []struct {
		name, obs              string
		typ, code, value, unit string
	}{
		{"pain as valueInteger", `{"resourceType":"Observation","status":"final",` + subject +
			`,"code":{"coding":[{"system":"http://loinc.org","code":"72514-3"}]},"valueInteger":7}`,
			"pain_level", "72514-3", "7", "score"},
		{"serum glucose alias, mmol/L", `{"resourceType":"Observation","status":"final",` + subject +
			`,"code":{"coding":[{"system":"http://loinc.org","code":"14749-6"}]},
			 "valueQuantity":{"value":5.6,"system":"http://unitsofmeasure.org","code":"mmol/L"}}`,
			"blood_glucose", "14749-6", "5.6", "mmol/L"},
		{"unit text only", `{"resourceType":"Observation","status":"final",` + subject +
			`,"code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"valueQuantity":{"value":180,"unit":"lb"}}`,
			"weight", "29463-7", "180", "lb"},
		{"older BP panel code", `{"resourceType":"Observation","status":"final",` + subject +
			`,"code":{"coding":[{"system":"http://loinc.org","code":"55284-4"}]},"component":[
			 {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
			 {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":130,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
			"blood_pressure", "55284-4", "", "mmHg"},
	}
	for _, c := range cases {
		req, err := FromObservation(json.RawMessage(c.obs), FromOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		a := req.Data.Attributes
		if a.Type != c.typ || a.Code == nil || a.Code.Value != c.code || string(a.Value) != c.value || a.Unit != c.unit {
			t.Errorf("%s: got %+v code %+v", c.name, a, a.Code)
		}
		if c.typ == "blood_pressure" && (a.Systolic != "130" || a.Diastolic != "80") {
			t.Errorf("%s: systolic %s diastolic %s", c.name, a.Systolic, a.Diastolic)
		}
		if q := req.Data.Relationships.Patient.Data.Meta.Query; q.Identifier != (Identifier{"mrn", "1"}) {
			t.Errorf("%s: query %+v", c.name, q)
		}
	}
}

// isInputErr tells whether err is an InputError for field whose message
// contains want.
func isInputErr(err error, field, want string) bool {
	var ie *component.InputError
	return errors.As(err, &ie) && ie.Field == field && strings.Contains(ie.Error(), want)
}

func TestToObservationErrors(t *testing.T) {
	base := func(mut func(a map[string]any)) json.RawMessage {
		doc := sampleMetric(*byType["weight"])
		mut(doc["data"].(map[string]any)["attributes"].(map[string]any))
		return mustJSON(nil, doc)
	}
	cases := []struct {
		name, field, want string
		raw               json.RawMessage
	}{
		{"unknown unit", "data.attributes.unit", `"furlongs"`, base(func(a map[string]any) { a["unit"] = "furlongs" })},
		{"unit of another kind", "data.attributes.unit", `"mg/dl" is not a unit of weight`, base(func(a map[string]any) { a["unit"] = "mg/dl" })},
		{"unit needed to choose", "data.attributes.unit", "required for weight", base(func(a map[string]any) { delete(a, "unit") })},
		{"unknown type", "data.attributes.type", `"steps"`, base(func(a map[string]any) { a["type"] = "steps" })},
		{"no value", "data.attributes.value", "required", base(func(a map[string]any) { delete(a, "value") })},
		{"value not a number", "data.attributes.value", "number", base(func(a map[string]any) { a["value"] = "heavy" })},
		{"bad date", "data.attributes.occurred_at", "date-time", base(func(a map[string]any) { a["occurred_at"] = "14/03/2017" })},
		{"pressure without diastolic", "data.attributes.diastolic", "required", mustJSON(nil, func() any {
			d := sampleMetric(*byType["blood_pressure"])
			delete(d["data"].(map[string]any)["attributes"].(map[string]any), "diastolic")
			return d
		}())},
		{"two metrics", "data", "holds 2", json.RawMessage(`{"data":[{},{}]}`)},
		{"not a metric", "data.type", `"patient"`, json.RawMessage(`{"data":{"type":"patient","attributes":{}}}`)},
	}
	for _, c := range cases {
		_, err := ToObservation(c.raw, ToOptions{})
		if !isInputErr(err, c.field, c.want) {
			t.Errorf("%s: got %v, want InputError on %s containing %s", c.name, err, c.field, c.want)
		}
	}
}

func TestFromObservationErrors(t *testing.T) {
	obs := func(code, value string) json.RawMessage {
		return json.RawMessage(`{"resourceType":"Observation","status":"final","code":{"coding":[` + code + `]},
		 "subject":{"identifier":{"system":"mrn","value":"1"}},"effectiveDateTime":"2024-01-02T03:04:05Z"` + value + `}`)
	}
	loinc := func(c string) string { return `{"system":"http://loinc.org","code":"` + c + `"}` }
	cases := []struct {
		name, field, want string
		raw               json.RawMessage
	}{
		{"unknown LOINC", "code", "http://loinc.org|8302-2", obs(loinc("8302-2"), `,"valueQuantity":{"value":180}`)},
		{"unknown type coding", "code", `"steps"`, obs(`{"system":"`+MetricTypeSystem+`","code":"steps"}`, `,"valueQuantity":{"value":1}`)},
		{"unknown UCUM code", "valueQuantity.code", `"[ft_i]"`, obs(loinc("29463-7"), `,"valueQuantity":{"value":6,"system":"http://unitsofmeasure.org","code":"[ft_i]"}`)},
		{"unknown unit text", "valueQuantity.unit", `"stone"`, obs(loinc("29463-7"), `,"valueQuantity":{"value":12,"unit":"stone"}`)},
		{"non-UCUM system", "valueQuantity.system", `"kg"`, obs(loinc("29463-7"), `,"valueQuantity":{"value":80,"system":"http://example.org/units","code":"kg"}`)},
		{"wrong unit for type", "valueQuantity.code", `"mg/dL" is not a unit of weight`, obs(loinc("29463-7"), `,"valueQuantity":{"value":80,"system":"http://unitsofmeasure.org","code":"mg/dL"}`)},
		{"no value", "valueQuantity", "required", obs(loinc("29463-7"), ``)},
		{"below detection limit", "valueQuantity.comparator", `"<"`, obs(loinc("20447-9"), `,"valueQuantity":{"value":20,"comparator":"<","unit":"copies/mL"}}`)},
		{"pressure without diastolic", "component", "diastolic", obs(loinc("85354-9"),
			`,"component":[{"code":{"coding":[`+loinc("8480-6")+`]},"valueQuantity":{"value":120,"unit":"mmHg"}}]`)},
		{"not an Observation", "resourceType", `"Patient"`, json.RawMessage(`{"resourceType":"Patient"}`)},
		{"preliminary", "status", `"preliminary"`, json.RawMessage(`{"resourceType":"Observation","status":"preliminary"}`)},
		{"no subject identifier", "subject.identifier", "required", json.RawMessage(`{"resourceType":"Observation","status":"final",
		 "code":{"coding":[` + loinc("8867-4") + `]},"subject":{"reference":"Patient/1"},"valueQuantity":{"value":60}}`)},
		{"year and month only", "effectiveDateTime", "a day at least", json.RawMessage(`{"resourceType":"Observation","status":"final",
		 "code":{"coding":[` + loinc("8867-4") + `]},"subject":{"identifier":{"system":"mrn","value":"1"}},
		 "effectiveDateTime":"2024-01","valueQuantity":{"value":60}}`)},
	}
	for _, c := range cases {
		_, err := FromObservation(c.raw, FromOptions{})
		if !isInputErr(err, c.field, c.want) {
			t.Errorf("%s: got %v, want InputError on %s containing %s", c.name, err, c.field, c.want)
		}
	}
}
