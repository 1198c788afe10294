package fhir

import (
	"bytes"
	"encoding/json"
	"os"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	fhirSchemaOnce sync.Once
	fhirSchema     *jsonschema.Schema // the whole schema: any FHIR resource
	observationDef *jsonschema.Schema // #/definitions/Observation, for readable failures
	fhirSchemaErr  error
)

// loadFHIRSchema compiles testdata/fhir.schema.json once per test binary.
func loadFHIRSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	fhirSchemaOnce.Do(func() {
		f, err := os.Open("testdata/fhir.schema.json")
		if err != nil {
			fhirSchemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			fhirSchemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("fhir.schema.json", doc); err != nil {
			fhirSchemaErr = err
			return
		}
		if fhirSchema, fhirSchemaErr = c.Compile("fhir.schema.json"); fhirSchemaErr != nil {
			return
		}
		observationDef, fhirSchemaErr = c.Compile("fhir.schema.json#/definitions/Observation")
	})
	if fhirSchemaErr != nil {
		t.Fatalf("compile FHIR schema: %v", fhirSchemaErr)
	}
	return fhirSchema
}

// validateFHIR checks that v, marshalled to JSON, is a valid FHIR R4 resource.
func validateFHIR(t *testing.T, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if loadFHIRSchema(t).Validate(inst) != nil {
		// The root is a oneOf over all resources; the Observation definition
		// names the offending fields.
		t.Errorf("not a valid FHIR R4 resource: %v\n%s", observationDef.Validate(inst), b)
	}
}

func TestFHIRSchemaRejectsInvalidObservation(t *testing.T) {
	s := loadFHIRSchema(t)
	for name, doc := range map[string]string{
		"unknown status": `{"resourceType":"Observation","status":"done","code":{"text":"x"}}`,
		"no code":        `{"resourceType":"Observation","status":"final"}`,
		"unknown field":  `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueFoo":1}`,
		"bad dateTime":   `{"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"14/03/2017"}`,
	} {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(doc)))
		if err != nil {
			t.Fatal(err)
		}
		if s.Validate(inst) == nil {
			t.Errorf("%s: the schema accepted %s", name, doc)
		}
	}
	ok := `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(ok)))
	if err := s.Validate(inst); err != nil {
		t.Errorf("minimal Observation rejected: %v", err)
	}
}
