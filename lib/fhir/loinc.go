package fhir

import "slices"

// loincTerm is what the mapping must know of one LOINC code to use it
// safely: its long common name (the Coding.display), its property (the kind
// of quantity it measures, LOINC's abbreviation) and the UCUM units that
// express that property for this analyte. A value is coded with a term only
// when its unit is one of the term's units: a molar result never goes under
// a mass code, nor an IFCC HbA1c under a percent code.
type loincTerm struct {
	Name     string
	Property string
	Units    []string
}

func (t loincTerm) accepts(ucum string) bool { return slices.Contains(t.Units, ucum) }

// Unit groups of the terms.
var (
	mmHg      = []string{"mm[Hg]"}
	percent   = []string{"%"}
	perMin    = []string{"/min"}
	mgdL      = []string{"mg/dL"}
	mmolL     = []string{"mmol/L"}
	bodyMass  = []string{"kg", "[lb_av]", "g", "[oz_av]"}
	leanMass  = []string{"kg", "[lb_av]"}
	volume    = []string{"L", "mL"}
	peakFlow  = []string{"L/min", "L/s"}
	celsiusF  = []string{"Cel", "[degF]"}
	tshUnits  = []string{"m[IU]/L", "u[IU]/mL"}
	crpUnits  = []string{"mg/L", "mg/dL"}
	ngmL      = []string{"ng/mL", "ug/L"}
	cd4Units  = []string{"{cells}/uL", "/uL"}
	pmolL     = []string{"pmol/L"}
	nmolL     = []string{"nmol/L"}
	ngdL      = []string{"ng/dL"}
	cpepMolar = []string{"nmol/L", "pmol/L"}
)

// loincTerms is every LOINC code the package writes or reads, with the
// LOINC long common name and property (Pres pressure, MCnc mass
// concentration, SCnc substance (molar) concentration, MFr mass fraction,
// SFr substance fraction, VFr volume fraction, ACnc arbitrary concentration,
// NCnc number concentration, RelTime relative time, NRat number rate, Mass,
// Ratio, Temp, Vol volume, VRat volume rate, Score; "-" for a panel).
var loincTerms = map[string]loincTerm{
	// vital signs
	"8480-6":  {"Systolic blood pressure", "Pres", mmHg},
	"8462-4":  {"Diastolic blood pressure", "Pres", mmHg},
	"85354-9": {"Blood pressure panel with all children optional", "-", mmHg},
	"55284-4": {"Blood pressure systolic and diastolic", "Pres", mmHg},
	"8867-4":  {"Heart rate", "NRat", perMin},
	"8889-8":  {"Heart rate by Pulse oximetry", "NRat", perMin},
	"9279-1":  {"Respiratory rate", "NRat", perMin},
	"8310-5":  {"Body temperature", "Temp", celsiusF},
	"8331-1":  {"Oral temperature", "Temp", celsiusF},
	"29463-7": {"Body weight", "Mass", bodyMass},
	"3141-9":  {"Body weight Measured", "Mass", bodyMass},
	"39156-5": {"Body mass index (BMI) [Ratio]", "Ratio", []string{"kg/m2"}},
	"2708-6":  {"Oxygen saturation in Arterial blood", "MFr", percent},
	"59408-5": {"Oxygen saturation in Arterial blood by Pulse oximetry", "MFr", percent},
	// body composition, lung function, reported scores
	"41982-0": {"Percentage of body fat Measured", "MFr", percent},
	"91557-9": {"Lean body weight", "Mass", leanMass},
	"20150-9": {"FEV1", "Vol", volume},
	"19870-5": {"Forced vital capacity [Volume] Respiratory system", "Vol", volume},
	"33452-4": {"Maximum expiratory gas flow Respiratory system airway", "VRat", peakFlow},
	"19935-6": {"Maximum expiratory gas flow Respiratory system airway by Peak flow meter", "VRat", peakFlow},
	"72514-3": {"Pain severity - 0-10 verbal numeric rating [Score] - Reported", "Score", []string{"{score}"}},
	// glucose and HbA1c
	"2339-0":  {"Glucose [Mass/volume] in Blood", "MCnc", mgdL},
	"15074-8": {"Glucose [Moles/volume] in Blood", "SCnc", mmolL},
	"2345-7":  {"Glucose [Mass/volume] in Serum or Plasma", "MCnc", mgdL},
	"14749-6": {"Glucose [Moles/volume] in Serum or Plasma", "SCnc", mmolL},
	"41653-7": {"Glucose [Mass/volume] in Capillary blood by Glucometer", "MCnc", mgdL},
	"14743-9": {"Glucose [Moles/volume] in Capillary blood by Glucometer", "SCnc", mmolL},
	"4548-4":  {"Hemoglobin A1c/Hemoglobin.total in Blood", "MFr", percent},
	"17856-6": {"Hemoglobin A1c/Hemoglobin.total in Blood by HPLC", "MFr", percent},
	"59261-8": {"Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol", "SFr", []string{"mmol/mol"}},
	// lipids
	"2085-9":  {"Cholesterol in HDL [Mass/volume] in Serum or Plasma", "MCnc", mgdL},
	"14646-4": {"Cholesterol in HDL [Moles/volume] in Serum or Plasma", "SCnc", mmolL},
	"2089-1":  {"Cholesterol in LDL [Mass/volume] in Serum or Plasma", "MCnc", mgdL},
	"22748-8": {"Cholesterol in LDL [Moles/volume] in Serum or Plasma", "SCnc", mmolL},
	"13457-7": {"Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", "MCnc", mgdL},
	"39469-2": {"Cholesterol in LDL [Moles/volume] in Serum or Plasma by calculation", "SCnc", mmolL},
	"18262-6": {"Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay", "MCnc", mgdL},
	"2093-3":  {"Cholesterol [Mass/volume] in Serum or Plasma", "MCnc", mgdL},
	"14647-2": {"Cholesterol [Moles/volume] in Serum or Plasma", "SCnc", mmolL},
	"2571-8":  {"Triglyceride [Mass/volume] in Serum or Plasma", "MCnc", mgdL},
	"14927-8": {"Triglyceride [Moles/volume] in Serum or Plasma", "SCnc", mmolL},
	// kidney
	"3094-0":  {"Urea nitrogen [Mass/volume] in Serum or Plasma", "MCnc", mgdL},
	"14937-7": {"Urea nitrogen [Moles/volume] in Serum or Plasma", "SCnc", mmolL},
	"2160-0":  {"Creatinine [Mass/volume] in Serum or Plasma", "MCnc", mgdL},
	"14682-9": {"Creatinine [Moles/volume] in Serum or Plasma", "SCnc", []string{"umol/L"}},
	// blood count and iron
	"718-7":   {"Hemoglobin [Mass/volume] in Blood", "MCnc", []string{"g/dL", "g/L"}},
	"59260-0": {"Hemoglobin [Moles/volume] in Blood", "SCnc", mmolL},
	"20570-8": {"Hematocrit [Volume Fraction] of Blood", "VFr", percent},
	"4544-3":  {"Hematocrit [Volume Fraction] of Blood by Automated count", "VFr", percent},
	"2498-4":  {"Iron [Mass/volume] in Serum or Plasma", "MCnc", []string{"ug/dL"}},
	"14798-3": {"Iron [Moles/volume] in Serum or Plasma", "SCnc", []string{"umol/L"}},
	// thyroid
	"3016-3":  {"Thyrotropin [Units/volume] in Serum or Plasma", "ACnc", tshUnits},
	"11580-8": {"Thyrotropin [Units/volume] in Serum or Plasma by Detection limit <= 0.005 mIU/L", "ACnc", tshUnits},
	"3024-7":  {"Thyroxine (T4) free [Mass/volume] in Serum or Plasma", "MCnc", ngdL},
	"14920-3": {"Thyroxine (T4) free [Moles/volume] in Serum or Plasma", "SCnc", pmolL},
	"3051-0":  {"Triiodothyronine (T3) Free [Mass/volume] in Serum or Plasma", "MCnc", []string{"pg/mL"}},
	"14928-6": {"Triiodothyronine (T3) Free [Moles/volume] in Serum or Plasma", "SCnc", pmolL},
	"3053-6":  {"Triiodothyronine (T3) [Mass/volume] in Serum or Plasma", "MCnc", ngdL},
	"14930-2": {"Triiodothyronine (T3) [Moles/volume] in Serum or Plasma", "SCnc", nmolL},
	// immunology, coagulation, hormones, other chemistry
	"24467-3": {"CD3+CD4+ (T4 helper) cells [#/volume] in Blood", "NCnc", cd4Units},
	"20447-9": {"HIV 1 RNA [#/volume] (viral load) in Serum or Plasma by NAA with probe detection", "NCnc", []string{"{copies}/mL"}},
	"6301-6":  {"INR in Platelet poor plasma by Coagulation assay", "RelTime", []string{"{INR}"}},
	"34714-6": {"INR in Blood by Coagulation assay", "RelTime", []string{"{INR}"}},
	"46418-0": {"INR in Capillary blood by Coagulation assay", "RelTime", []string{"{INR}"}},
	"2991-8":  {"Testosterone Free [Mass/volume] in Serum or Plasma", "MCnc", []string{"pg/mL", "ng/dL"}},
	"14914-6": {"Testosterone Free [Moles/volume] in Serum or Plasma", "SCnc", pmolL},
	"2986-8":  {"Testosterone [Mass/volume] in Serum or Plasma", "MCnc", ngdL},
	"14913-8": {"Testosterone [Moles/volume] in Serum or Plasma", "SCnc", nmolL},
	"1988-5":  {"C reactive protein [Mass/volume] in Serum or Plasma", "MCnc", crpUnits},
	"30522-7": {"C reactive protein [Mass/volume] in Serum or Plasma by High sensitivity method", "MCnc", crpUnits},
	"2857-1":  {"Prostate specific Ag [Mass/volume] in Serum or Plasma", "MCnc", ngmL},
	"10365-5": {"Cotinine [Mass/volume] in Serum or Plasma", "MCnc", ngmL},
	"10366-3": {"Cotinine [Mass/volume] in Urine", "MCnc", ngmL},
	"1986-9":  {"C peptide [Mass/volume] in Serum or Plasma", "MCnc", []string{"ng/mL"}},
	"14633-2": {"C peptide [Moles/volume] in Serum or Plasma", "SCnc", cpepMolar},
}

// loincDisplay is the long common name of a known code ("" if unknown).
func loincDisplay(code string) string { return loincTerms[code].Name }
