// Package fhir maps Fitbit Plus patient health metrics and patients to FHIR
// R4 Observations and Patients and back (EMR sync). The mappings are pure:
// no I/O, no clock, no logging.
//
//   - ToObservation / MetricObservation: metric → Observation (LOINC codes
//     chosen by type and unit, the Fitbit Plus type coding, UCUM
//     valueQuantity, blood pressure as a panel with components, subject by
//     identifier, identifier = metric id).
//   - FromObservation: Observation → createPatientHealthMetric request
//     document addressing the patient by meta.query; corrections are a
//     CorrectionError, the connector's own Observations ErrOwnObservation.
//   - ToPatient / FromPatient: patient → Patient, Patient → upsertPatient
//     request document.
//   - TransactionBundle / PatientBundle: transaction Bundles of conditional
//     creates, safe to post twice.
//   - The actions of component.overlay.json: ToFhirObservationAction,
//     FromFhirObservationAction, ToFhirPatientAction, FromFhirPatientAction.
//
// Types is the mapping table of the 42 metric types, loincTerms the LOINC
// codes it uses, unitSpellings the unit spellings accepted on either side.
package fhir

import "slices"

// FHIR code systems used in the output.
const (
	LOINCSystem    = "http://loinc.org"
	UCUMSystem     = "http://unitsofmeasure.org"
	CategorySystem = "http://terminology.hl7.org/CodeSystem/observation-category"
	SNOMEDSystem   = "http://snomed.info/sct"
)

// Fitbit Plus naming systems (URIs under the API base URL).
const (
	SourceURI = "https://api.twinehealth.com/pub"
	// MetricTypeSystem codes a metric by its Fitbit Plus type
	// (e.g. "ldl_cholesterol"): the source system's own coding.
	MetricTypeSystem = SourceURI + "/patient_health_metric/type"
	// MetricIDSystem is the Observation.identifier system carrying the
	// Fitbit Plus metric id, for idempotent upserts.
	MetricIDSystem = SourceURI + "/patient_health_metric"
	// PatientIDSystem identifies a patient by its Fitbit Plus id.
	PatientIDSystem = SourceURI + "/patient"
)

// Observation categories (observation-category code system).
const (
	VitalSigns = "vital-signs"
	Laboratory = "laboratory"
	Survey     = "survey"
	Exam       = "exam"
	Therapy    = "therapy"
)

var categoryDisplay = map[string]string{
	VitalSigns: "Vital Signs",
	Laboratory: "Laboratory",
	Survey:     "Survey",
	Exam:       "Exam",
	Therapy:    "Therapy",
}

// MetricType is one row of the mapping table: a Fitbit Plus metric type and
// its FHIR coding.
type MetricType struct {
	Type     string   // Fitbit Plus type, e.g. "ldl_cholesterol"
	Title    string   // human name, used as code.text
	Category string   // observation-category code
	Units    []string // UCUM codes accepted for the value; the first is the default
	// LOINC are the codes written for a value: every code here whose term
	// (loincTerms) lists the value's unit. Empty when no code is mapped.
	LOINC []string
	// Aliases are further codes of the same measure accepted on input, and
	// kept from a metric's own code when their term lists its unit.
	Aliases []string
}

// HasLOINC tells whether the type has LOINC codes.
func (t MetricType) HasLOINC() bool { return len(t.LOINC) > 0 }

// CodesFor returns the LOINC codes written for a value of the type in the
// UCUM unit ucum (none when the type has no code for that unit).
func (t MetricType) CodesFor(ucum string) []string {
	var out []string
	for _, c := range t.LOINC {
		if loincTerms[c].accepts(ucum) {
			out = append(out, c)
		}
	}
	return out
}

// knows tells whether code is one of the type's codes or aliases.
func (t MetricType) knows(code string) bool {
	return slices.Contains(t.LOINC, code) || slices.Contains(t.Aliases, code)
}

// Blood pressure component codes (LOINC).
const (
	systolicLOINC  = "8480-6"
	diastolicLOINC = "8462-4"
)

// Types is the mapping table for the 42 metric types of the Fitbit Plus API
// (PatientHealthMetricResource.type), in the API's enum order. loincTerms
// gives each code's long name and property; a test checks that every unit
// of a type has a code whose property fits it.
//
// Codes are method-less and specimen-less unless the measure has no such
// code; a row that differs says why. Rows without a LOINC code keep the
// Fitbit Plus type coding only.
var Types = []MetricType{
	{Type: "blood_pressure_systolic", Title: "Systolic blood pressure", Category: VitalSigns,
		Units: mmHg, LOINC: []string{systolicLOINC}},
	{Type: "blood_pressure_diastolic", Title: "Diastolic blood pressure", Category: VitalSigns,
		Units: mmHg, LOINC: []string{diastolicLOINC}},
	// % is the NGSP/DCCT mass fraction (4548-4), mmol/mol the IFCC
	// substance fraction (59261-8).
	{Type: "hemoglobin_a1c", Title: "Hemoglobin A1c", Category: Laboratory,
		Units: []string{"%", "mmol/mol"}, LOINC: []string{"4548-4", "59261-8"}, Aliases: []string{"17856-6"}},
	{Type: "hdl_cholesterol", Title: "HDL cholesterol", Category: Laboratory,
		Units: []string{"mg/dL", "mmol/L"}, LOINC: []string{"2085-9", "14646-4"}},
	// 2089-1 and 22748-8 have no method; the calculated (13457-7, 39469-2)
	// and direct (18262-6) codes are read, and kept when the metric says so.
	{Type: "ldl_cholesterol", Title: "LDL cholesterol", Category: Laboratory,
		Units: []string{"mg/dL", "mmol/L"}, LOINC: []string{"2089-1", "22748-8"},
		Aliases: []string{"13457-7", "39469-2", "18262-6"}},
	{Type: "total_cholesterol", Title: "Total cholesterol", Category: Laboratory,
		Units: []string{"mg/dL", "mmol/L"}, LOINC: []string{"2093-3", "14647-2"}},
	{Type: "triglycerides", Title: "Triglycerides", Category: Laboratory,
		Units: []string{"mg/dL", "mmol/L"}, LOINC: []string{"2571-8", "14927-8"}},
	{Type: "blood_urea_nitrogen", Title: "Blood urea nitrogen", Category: Laboratory,
		Units: []string{"mg/dL", "mmol/L"}, LOINC: []string{"3094-0", "14937-7"}},
	{Type: "creatinine", Title: "Creatinine", Category: Laboratory,
		Units: []string{"mg/dL", "umol/L"}, LOINC: []string{"2160-0", "14682-9"}},
	{Type: "hemoglobin", Title: "Hemoglobin", Category: Laboratory,
		Units: []string{"g/dL", "g/L", "mmol/L"}, LOINC: []string{"718-7", "59260-0"}},
	// 20570-8 has no method; 4544-3 (by automated count) is read.
	{Type: "hematocrit", Title: "Hematocrit", Category: Laboratory,
		Units: percent, LOINC: []string{"20570-8"}, Aliases: []string{"4544-3"}},
	{Type: "total_serum_iron", Title: "Total serum iron", Category: Laboratory,
		Units: []string{"ug/dL", "umol/L"}, LOINC: []string{"2498-4", "14798-3"}},
	// 11580-8 (TSH by detection limit <= 0.005 mIU/L) is common in lab feeds.
	{Type: "thyroid_stimulating_hormone", Title: "Thyroid stimulating hormone", Category: Laboratory,
		Units: tshUnits, LOINC: []string{"3016-3"}, Aliases: []string{"11580-8"}},
	{Type: "free_thyroxine", Title: "Free thyroxine (free T4)", Category: Laboratory,
		Units: []string{"ng/dL", "pmol/L"}, LOINC: []string{"3024-7", "14920-3"}},
	{Type: "free_triiodothyronine", Title: "Free triiodothyronine (free T3)", Category: Laboratory,
		Units: []string{"pg/mL", "pmol/L"}, LOINC: []string{"3051-0", "14928-6"}},
	{Type: "total_triiodothyronine", Title: "Total triiodothyronine (T3)", Category: Laboratory,
		Units: []string{"ng/dL", "nmol/L"}, LOINC: []string{"3053-6", "14930-2"}},
	{Type: "cd4_cell_count", Title: "CD4 cell count", Category: Laboratory,
		Units: cd4Units, LOINC: []string{"24467-3"}},
	// Viral load is measured by nucleic acid amplification; LOINC has no
	// method-less viral load code.
	{Type: "hiv_viral_load", Title: "HIV viral load", Category: Laboratory,
		Units: []string{"{copies}/mL"}, LOINC: []string{"20447-9"}},
	// Every INR code names the coagulation assay; 6301-6 (platelet poor
	// plasma) is the usual one, the blood and capillary blood codes are read.
	{Type: "inr", Title: "INR", Category: Laboratory,
		Units: []string{"{INR}"}, LOINC: []string{"6301-6"}, Aliases: []string{"34714-6", "46418-0"}},
	{Type: "free_testosterone", Title: "Free testosterone", Category: Laboratory,
		Units: []string{"pg/mL", "ng/dL", "pmol/L"}, LOINC: []string{"2991-8", "14914-6"}},
	{Type: "total_testosterone", Title: "Total testosterone", Category: Laboratory,
		Units: []string{"ng/dL", "nmol/L"}, LOINC: []string{"2986-8", "14913-8"}},
	{Type: "c_reactive_protein", Title: "C-reactive protein", Category: Laboratory,
		Units: crpUnits, LOINC: []string{"1988-5"}, Aliases: []string{"30522-7"}},
	{Type: "prostate_specific_antigen", Title: "Prostate specific antigen", Category: Laboratory,
		Units: ngmL, LOINC: []string{"2857-1"}},
	// No default code: LOINC codes cotinine per specimen (serum or plasma
	// 10365-5, urine 10366-3, with very different ranges) and the API does
	// not say which. A metric's own code of either is kept; both are read.
	{Type: "cotinine", Title: "Cotinine", Category: Laboratory,
		Units: ngmL, Aliases: []string{"10365-5", "10366-3"}},
	{Type: "c_peptide", Title: "C-peptide", Category: Laboratory,
		Units: []string{"ng/mL", "nmol/L", "pmol/L"}, LOINC: []string{"1986-9", "14633-2"}},
	// 55284-4 ("Blood pressure systolic and diastolic") is the older panel.
	{Type: "blood_pressure", Title: "Blood pressure", Category: VitalSigns,
		Units: mmHg, LOINC: []string{"85354-9"}, Aliases: []string{"55284-4"}},
	// Serum or plasma (2345-7, 14749-6) and glucometer (41653-7, 14743-9)
	// codes are read.
	{Type: "blood_glucose", Title: "Blood glucose", Category: Laboratory,
		Units: []string{"mg/dL", "mmol/L"}, LOINC: []string{"2339-0", "15074-8"},
		Aliases: []string{"2345-7", "14749-6", "41653-7", "14743-9"}},
	{Type: "weight", Title: "Body weight", Category: VitalSigns,
		Units: []string{"[lb_av]", "kg", "g", "[oz_av]"}, LOINC: []string{"29463-7"}, Aliases: []string{"3141-9"}},
	{Type: "heart_rate", Title: "Heart rate", Category: VitalSigns,
		Units: perMin, LOINC: []string{"8867-4"}, Aliases: []string{"8889-8"}},
	{Type: "body_fat_percentage", Title: "Body fat percentage", Category: Exam,
		Units: percent, LOINC: []string{"41982-0"}},
	{Type: "body_mass_index", Title: "Body mass index", Category: VitalSigns,
		Units: []string{"kg/m2"}, LOINC: []string{"39156-5"}},
	{Type: "body_temperature", Title: "Body temperature", Category: VitalSigns,
		Units: []string{"[degF]", "Cel"}, LOINC: []string{"8310-5"}, Aliases: []string{"8331-1"}},
	{Type: "forced_expiratory_volume1", Title: "Forced expiratory volume in 1 second (FEV1)", Category: Exam,
		Units: volume, LOINC: []string{"20150-9"}},
	{Type: "forced_vital_capacity", Title: "Forced vital capacity (FVC)", Category: Exam,
		Units: volume, LOINC: []string{"19870-5"}},
	// 73708-0, once suggested, is used for fat mass by DEXA in several
	// public mappings; 91557-9 is what HealthKit and Health Connect to FHIR
	// mappings use for lean body mass.
	{Type: "lean_body_mass", Title: "Lean body mass", Category: Exam,
		Units: []string{"[lb_av]", "kg"}, LOINC: []string{"91557-9"}},
	// No LOINC: no code for a patient-reported nausea level that we could
	// confirm; coded by the Fitbit Plus type only.
	{Type: "nausea_level", Title: "Nausea level", Category: Survey, Units: []string{"{score}"}},
	// The R4 oxygen saturation profile requires 2708-6; 59408-5 (by pulse
	// oximetry, as a wearable measures it) is the US Core code. Both are
	// written.
	{Type: "oxygen_saturation", Title: "Oxygen saturation", Category: VitalSigns,
		Units: percent, LOINC: []string{"59408-5", "2708-6"}},
	{Type: "pain_level", Title: "Pain level", Category: Survey,
		Units: []string{"{score}"}, LOINC: []string{"72514-3"}},
	// 33452-4 has no method; 19935-6 (by peak flow meter) is read.
	{Type: "peak_expiratory_flow_rate", Title: "Peak expiratory flow rate", Category: Exam,
		Units: peakFlow, LOINC: []string{"33452-4"}, Aliases: []string{"19935-6"}},
	// No LOINC: 61006-3 was suggested but only one unreviewed public source
	// uses it for the perfusion index; not confirmed, so not used.
	{Type: "peripheral_perfusion_index", Title: "Peripheral perfusion index", Category: Exam, Units: percent},
	{Type: "respiratory_rate", Title: "Respiratory rate", Category: VitalSigns,
		Units: perMin, LOINC: []string{"9279-1"}},
	// No LOINC: there is no LOINC observation for a count of rescue inhaler
	// uses that we could confirm.
	{Type: "inhaler_usage", Title: "Inhaler usage", Category: Therapy, Units: []string{"{puffs}", "{uses}"}},
}

var (
	byType  = map[string]*MetricType{}
	byLOINC = map[string]*MetricType{} // codes and aliases
)

func init() {
	for i := range Types {
		t := &Types[i]
		byType[t.Type] = t
		for _, c := range slices.Concat(t.LOINC, t.Aliases) {
			byLOINC[c] = t
		}
	}
}

// Lookup returns the table row of a Fitbit Plus metric type.
func Lookup(metricType string) (MetricType, bool) {
	t, ok := byType[metricType]
	if !ok {
		return MetricType{}, false
	}
	return *t, true
}

// LookupLOINC returns the table row whose LOINC code (or accepted alias) is
// code. The systolic and diastolic codes give the single-value types.
func LookupLOINC(code string) (MetricType, bool) {
	t, ok := byLOINC[code]
	if !ok {
		return MetricType{}, false
	}
	return *t, true
}

func (t MetricType) allowsUnit(ucum string) bool { return slices.Contains(t.Units, ucum) }
