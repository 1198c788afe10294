package triggers

import (
	"encoding/json"
	"fmt"

	"github.com/fitbitplus/connector/lib/fhir"
)

// patientFHIR is the FHIR output of the patients trigger: a patient's
// single-resource document as a FHIR R4 Patient, or a transaction Bundle
// creating it. The error names the patient and what the mapping refuses,
// never a value.
func patientFHIR(doc []byte, set settings) ([]byte, error) {
	p, err := fhir.ToPatient(doc, set.fhirIDs)
	var out any = p
	if err == nil && set.bundle {
		out, err = fhir.PatientBundle(p, set.fhirIDs, nil)
	}
	if err != nil {
		var id struct {
			Data struct{ ID string } `json:"data"`
		}
		_ = json.Unmarshal(doc, &id)
		return nil, fmt.Errorf("patient %s cannot be expressed as a FHIR Patient: %w", id.Data.ID, err)
	}
	return json.Marshal(out)
}
