// Package fhir maps Fitbit Plus patient health metrics to FHIR R4
// Observations and back (EMR sync). Everything here is pure: no I/O, no
// clock, no logging.
//
//   - ToObservation / MetricObservation: metric → Observation (LOINC + the
//     Fitbit Plus type coding, UCUM valueQuantity, blood pressure as a panel
//     with components, subject by identifier, identifier = metric id).
//   - FromObservation: Observation → createPatientHealthMetric request
//     document addressing the patient by meta.query.
//   - ToFhirObservationAction, FromFhirObservationAction: the two actions of
//     component.overlay.json.
//
// Types is the mapping table of the 42 metric types; unitSpellings the unit
// spellings accepted on either side.
package fhir

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
	LOINC    string   // LOINC code; "" when no code is mapped
	Display  string   // LOINC display (long common name or its usual short form)
	Aliases  []string // further LOINC codes accepted on input (inverse mapping only)
	Category string   // observation-category code
	Units    []string // UCUM codes accepted for the value; the first is the default
}

// HasLOINC tells whether the type has a LOINC code.
func (t MetricType) HasLOINC() bool { return t.LOINC != "" }

// Blood pressure component codes (LOINC).
const (
	systolicLOINC  = "8480-6"
	diastolicLOINC = "8462-4"
)

// Types is the mapping table for the 42 metric types of the Fitbit Plus API
// (PatientHealthMetricResource.type), in the API's enum order.
//
// Codes come from general LOINC knowledge; the doubtful rows say what backs
// them. Rows without a LOINC code keep the Fitbit Plus type coding only.
var Types = []MetricType{
	{Type: "blood_pressure_systolic", Title: "Systolic blood pressure", LOINC: systolicLOINC,
		Display: "Systolic blood pressure", Category: VitalSigns, Units: []string{"mm[Hg]"}},
	{Type: "blood_pressure_diastolic", Title: "Diastolic blood pressure", LOINC: diastolicLOINC,
		Display: "Diastolic blood pressure", Category: VitalSigns, Units: []string{"mm[Hg]"}},
	{Type: "hemoglobin_a1c", Title: "Hemoglobin A1c", LOINC: "4548-4",
		Display: "Hemoglobin A1c/Hemoglobin.total in Blood", Aliases: []string{"17856-6"},
		Category: Laboratory, Units: []string{"%", "mmol/mol"}},
	{Type: "hdl_cholesterol", Title: "HDL cholesterol", LOINC: "2085-9",
		Display:  "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"mg/dL", "mmol/L"}},
	// 13457-7 is the seed's own example (calculated LDL); the direct assays
	// 18262-6 and 2089-1 are accepted on input.
	{Type: "ldl_cholesterol", Title: "LDL cholesterol", LOINC: "13457-7",
		Display: "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", Aliases: []string{"18262-6", "2089-1"},
		Category: Laboratory, Units: []string{"mg/dL", "mmol/L"}},
	{Type: "total_cholesterol", Title: "Total cholesterol", LOINC: "2093-3",
		Display:  "Cholesterol [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"mg/dL", "mmol/L"}},
	{Type: "triglycerides", Title: "Triglycerides", LOINC: "2571-8",
		Display:  "Triglyceride [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"mg/dL", "mmol/L"}},
	{Type: "blood_urea_nitrogen", Title: "Blood urea nitrogen", LOINC: "3094-0",
		Display:  "Urea nitrogen [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"mg/dL", "mmol/L"}},
	{Type: "creatinine", Title: "Creatinine", LOINC: "2160-0",
		Display:  "Creatinine [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"mg/dL", "umol/L"}},
	{Type: "hemoglobin", Title: "Hemoglobin", LOINC: "718-7",
		Display:  "Hemoglobin [Mass/volume] in Blood",
		Category: Laboratory, Units: []string{"g/dL", "g/L", "mmol/L"}},
	{Type: "hematocrit", Title: "Hematocrit", LOINC: "4544-3",
		Display:  "Hematocrit [Volume Fraction] of Blood by Automated count",
		Category: Laboratory, Units: []string{"%"}},
	{Type: "total_serum_iron", Title: "Total serum iron", LOINC: "2498-4",
		Display:  "Iron [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"ug/dL", "umol/L"}},
	// 11580-8 (TSH by detection limit <= 0.005 mIU/L) is common in lab feeds.
	{Type: "thyroid_stimulating_hormone", Title: "Thyroid stimulating hormone", LOINC: "3016-3",
		Display: "Thyrotropin [Units/volume] in Serum or Plasma", Aliases: []string{"11580-8"},
		Category: Laboratory, Units: []string{"m[IU]/L", "u[IU]/mL"}},
	{Type: "free_thyroxine", Title: "Free thyroxine (free T4)", LOINC: "3024-7",
		Display:  "Thyroxine (T4) free [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"ng/dL", "pmol/L"}},
	{Type: "free_triiodothyronine", Title: "Free triiodothyronine (free T3)", LOINC: "3051-0",
		Display:  "Triiodothyronine (T3) Free [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"pg/mL", "pmol/L"}},
	{Type: "total_triiodothyronine", Title: "Total triiodothyronine (T3)", LOINC: "3053-6",
		Display:  "Triiodothyronine (T3) [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"ng/dL", "nmol/L"}},
	{Type: "cd4_cell_count", Title: "CD4 cell count", LOINC: "24467-3",
		Display:  "CD3+CD4+ (T4 helper) cells [#/volume] in Blood",
		Category: Laboratory, Units: []string{"{cells}/uL", "/uL"}},
	{Type: "hiv_viral_load", Title: "HIV viral load", LOINC: "20447-9",
		Display:  "HIV 1 RNA [#/volume] (viral load) in Serum or Plasma by NAA with probe detection",
		Category: Laboratory, Units: []string{"{copies}/mL"}},
	{Type: "inr", Title: "INR", LOINC: "6301-6",
		Display:  "INR in Platelet poor plasma by Coagulation assay",
		Category: Laboratory, Units: []string{"{INR}"}},
	{Type: "free_testosterone", Title: "Free testosterone", LOINC: "2991-8",
		Display:  "Testosterone Free [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"pg/mL", "ng/dL", "pmol/L"}},
	{Type: "total_testosterone", Title: "Total testosterone", LOINC: "2986-8",
		Display:  "Testosterone [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"ng/dL", "nmol/L"}},
	{Type: "c_reactive_protein", Title: "C-reactive protein", LOINC: "1988-5",
		Display:  "C reactive protein [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"mg/L", "mg/dL"}},
	{Type: "prostate_specific_antigen", Title: "Prostate specific antigen", LOINC: "2857-1",
		Display:  "Prostate specific Ag [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"ng/mL", "ug/L"}},
	// Doubtful: LOINC codes cotinine per specimen and the API does not say
	// which. 10366-3 is "Cotinine [Mass/volume] in Urine" and 10365-5 the
	// serum/plasma code (both confirmed by a published LOINC value set); urine
	// is the usual smoking-cessation test, so 10366-3 is the default and
	// 10365-5 is accepted on input.
	{Type: "cotinine", Title: "Cotinine", LOINC: "10366-3",
		Display: "Cotinine [Mass/volume] in Urine", Aliases: []string{"10365-5"},
		Category: Laboratory, Units: []string{"ng/mL", "ug/L"}},
	{Type: "c_peptide", Title: "C-peptide", LOINC: "1986-9",
		Display:  "C peptide [Mass/volume] in Serum or Plasma",
		Category: Laboratory, Units: []string{"ng/mL", "nmol/L", "pmol/L"}},
	// 55284-4 ("Blood pressure systolic and diastolic") is the older panel.
	{Type: "blood_pressure", Title: "Blood pressure", LOINC: "85354-9",
		Display: "Blood pressure panel with all children optional", Aliases: []string{"55284-4"},
		Category: VitalSigns, Units: []string{"mm[Hg]"}},
	// 2345-7 (serum/plasma) and 41653-7 (glucometer) are accepted on input.
	{Type: "blood_glucose", Title: "Blood glucose", LOINC: "2339-0",
		Display: "Glucose [Mass/volume] in Blood", Aliases: []string{"2345-7", "41653-7"},
		Category: Laboratory, Units: []string{"mg/dL", "mmol/L"}},
	{Type: "weight", Title: "Body weight", LOINC: "29463-7",
		Display: "Body weight", Aliases: []string{"3141-9"},
		Category: VitalSigns, Units: []string{"[lb_av]", "kg"}},
	{Type: "heart_rate", Title: "Heart rate", LOINC: "8867-4",
		Display: "Heart rate", Category: VitalSigns, Units: []string{"/min"}},
	{Type: "body_fat_percentage", Title: "Body fat percentage", LOINC: "41982-0",
		Display: "Percentage of body fat Measured", Category: Exam, Units: []string{"%"}},
	{Type: "body_mass_index", Title: "Body mass index", LOINC: "39156-5",
		Display: "Body mass index (BMI) [Ratio]", Category: VitalSigns, Units: []string{"kg/m2"}},
	{Type: "body_temperature", Title: "Body temperature", LOINC: "8310-5",
		Display: "Body temperature", Category: VitalSigns, Units: []string{"[degF]", "Cel"}},
	{Type: "forced_expiratory_volume1", Title: "Forced expiratory volume in 1 second (FEV1)", LOINC: "20150-9",
		Display: "FEV1", Category: Exam, Units: []string{"L", "mL"}},
	{Type: "forced_vital_capacity", Title: "Forced vital capacity (FVC)", LOINC: "19870-5",
		Display: "Forced vital capacity [Volume] Respiratory system", Category: Exam, Units: []string{"L", "mL"}},
	// Doubtful: 73708-0, suggested at first, is used for "fat mass by DEXA"
	// in several public mappings, so it is not lean mass. 91557-9 ("Lean body
	// weight") is what independent HealthKit/Health Connect to FHIR mappings
	// (e.g. Stanford's HealthKitOnFHIR) use for lean body mass.
	{Type: "lean_body_mass", Title: "Lean body mass", LOINC: "91557-9",
		Display: "Lean body weight", Category: Exam, Units: []string{"[lb_av]", "kg"}},
	// No LOINC: no code for a patient-reported nausea level that we could
	// confirm; coded by the Fitbit Plus type only.
	{Type: "nausea_level", Title: "Nausea level", Category: Survey, Units: []string{"{score}"}},
	// 59408-5 is what the seed (and US Core pulse oximetry) use; 2708-6
	// (arterial blood) is accepted on input.
	{Type: "oxygen_saturation", Title: "Oxygen saturation", LOINC: "59408-5",
		Display: "Oxygen saturation in Arterial blood by Pulse oximetry", Aliases: []string{"2708-6"},
		Category: VitalSigns, Units: []string{"%"}},
	{Type: "pain_level", Title: "Pain level", LOINC: "72514-3",
		Display:  "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
		Category: Survey, Units: []string{"{score}"}},
	// Doubtful: 19935-6 ("Maximum expiratory gas flow Respiratory system
	// airway by Peak flow meter") is the target of the HealthKit peak
	// expiratory flow rate concept map and of several independent mappings.
	{Type: "peak_expiratory_flow_rate", Title: "Peak expiratory flow rate", LOINC: "19935-6",
		Display:  "Maximum expiratory gas flow Respiratory system airway by Peak flow meter",
		Category: Exam, Units: []string{"L/min", "L/s"}},
	// No LOINC: 61006-3 was suggested but only one unreviewed public source
	// uses it for the perfusion index; not confirmed, so not used.
	{Type: "peripheral_perfusion_index", Title: "Peripheral perfusion index", Category: Exam, Units: []string{"%"}},
	{Type: "respiratory_rate", Title: "Respiratory rate", LOINC: "9279-1",
		Display: "Respiratory rate", Category: VitalSigns, Units: []string{"/min"}},
	// No LOINC: there is no LOINC observation for a count of rescue inhaler
	// uses that we could confirm.
	{Type: "inhaler_usage", Title: "Inhaler usage", Category: Therapy, Units: []string{"{puffs}", "{uses}"}},
}

var (
	byType  = map[string]*MetricType{}
	byLOINC = map[string]*MetricType{} // primary codes and aliases
)

func init() {
	for i := range Types {
		t := &Types[i]
		byType[t.Type] = t
		if t.LOINC != "" {
			byLOINC[t.LOINC] = t
		}
		for _, a := range t.Aliases {
			byLOINC[a] = t
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

// loincDisplay returns the display of a LOINC code known to the table ("" if
// it is an alias or unknown).
func loincDisplay(code string) string {
	if t, ok := byLOINC[code]; ok && t.LOINC == code {
		return t.Display
	}
	return ""
}

func (t MetricType) allowsUnit(ucum string) bool {
	for _, u := range t.Units {
		if u == ucum {
			return true
		}
	}
	return false
}
