package fhir

import "strings"

// unitSpellings maps the unit spellings accepted from Fitbit Plus metrics and
// FHIR Quantity.unit texts to UCUM codes. Lookup ignores case and surrounding
// blanks; a test makes sure no two spellings collide that way.
var unitSpellings = map[string]string{
	// pressure
	"mm[Hg]": "mm[Hg]", "mmHg": "mm[Hg]", "mm Hg": "mm[Hg]",
	// fractions and ratios
	"%": "%", "percent": "%", "pct": "%",
	"mmol/mol": "mmol/mol",
	"kg/m2":    "kg/m2", "kg/m^2": "kg/m2", "kg/m²": "kg/m2",
	"{INR}": "{INR}", "INR": "{INR}", "ratio": "{INR}",
	// mass and substance concentrations
	"mg/dL": "mg/dL", "mg/L": "mg/L",
	"g/dL": "g/dL", "g/L": "g/L",
	"ug/dL": "ug/dL", "µg/dL": "ug/dL", "mcg/dL": "ug/dL",
	"ug/L": "ug/L", "µg/L": "ug/L", "mcg/L": "ug/L",
	"ng/dL": "ng/dL", "ng/mL": "ng/mL", "pg/mL": "pg/mL",
	"mmol/L": "mmol/L", "umol/L": "umol/L", "µmol/L": "umol/L",
	"nmol/L": "nmol/L", "pmol/L": "pmol/L",
	"m[IU]/L": "m[IU]/L", "mIU/L": "m[IU]/L", "mU/L": "m[IU]/L",
	"u[IU]/mL": "u[IU]/mL", "uIU/mL": "u[IU]/mL", "µIU/mL": "u[IU]/mL",
	// counts
	"{cells}/uL": "{cells}/uL", "cells/uL": "{cells}/uL", "cells/µL": "{cells}/uL",
	"/uL":         "/uL",
	"{copies}/mL": "{copies}/mL", "copies/mL": "{copies}/mL",
	"/min": "/min", "bpm": "/min", "beats/min": "/min", "{beats}/min": "/min", "beats per minute": "/min",
	"breaths/min": "/min", "{breaths}/min": "/min", "brpm": "/min",
	"{score}": "{score}", "score": "{score}", "points": "{score}",
	"{puffs}": "{puffs}", "puffs": "{puffs}", "puff": "{puffs}",
	"{uses}": "{uses}", "uses": "{uses}", "times": "{uses}",
	// body mass
	"[lb_av]": "[lb_av]", "lb": "[lb_av]", "lbs": "[lb_av]", "pounds": "[lb_av]",
	"kg": "kg", "kgs": "kg", "kilograms": "kg",
	"g": "g", "grams": "g", "[oz_av]": "[oz_av]", "oz": "[oz_av]", "ounces": "[oz_av]",
	// temperature
	"[degF]": "[degF]", "degF": "[degF]", "°F": "[degF]", "fahrenheit": "[degF]",
	"Cel": "Cel", "degC": "Cel", "°C": "Cel", "celsius": "Cel",
	// volume and flow
	"L": "L", "liters": "L", "litres": "L", "mL": "mL",
	"L/min": "L/min", "lpm": "L/min", "L/s": "L/s",
}

// fitbitUnits is the spelling written into createPatientHealthMetric request
// documents for a UCUM code, when the Observation's own unit text is not a
// spelling of the same code. "mg/dl" is the spelling of the API's own example.
var fitbitUnits = map[string]string{
	"mm[Hg]": "mmHg", "mg/dL": "mg/dl", "[lb_av]": "lbs", "[oz_av]": "oz", "/min": "bpm",
	"[degF]": "degF", "Cel": "degC", "m[IU]/L": "mIU/L", "u[IU]/mL": "uIU/mL",
	"{cells}/uL": "cells/uL", "{copies}/mL": "copies/mL", "{INR}": "INR",
	"{score}": "score", "{puffs}": "puffs", "{uses}": "uses",
}

var unitIndex = func() map[string]string {
	m := make(map[string]string, len(unitSpellings))
	for k, v := range unitSpellings {
		m[unitKey(k)] = v
	}
	return m
}()

func unitKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// UCUM returns the UCUM code of a unit spelling, and whether it is known.
func UCUM(spelling string) (string, bool) {
	code, ok := unitIndex[unitKey(spelling)]
	return code, ok
}

// fitbitUnit returns the Fitbit Plus spelling for a UCUM code: text itself
// when it spells the same code, else the preferred spelling, else the code.
func fitbitUnit(ucum, text string) string {
	if text != "" {
		if c, ok := UCUM(text); ok && c == ucum {
			return text
		}
	}
	if s, ok := fitbitUnits[ucum]; ok {
		return s
	}
	return ucum
}
