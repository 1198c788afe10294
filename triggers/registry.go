// Package triggers holds the hand-written polling triggers of the component:
// new or updated patients, new or updated calendar events, and new patient
// health metrics. Each emits every new or changed resource once across polls
// and keeps its state in the step's snapshot (at most SnapshotBudget bytes).
package triggers

import (
	"github.com/fitbitplus/connector/actions"
	"github.com/fitbitplus/connector/lib/component"
)

// The triggers, as component.json names them.
var (
	// Patients emits new or updated patients of an organization or groups.
	Patients = &UpdatedTrigger{Name: "patients", Op: actions.FetchPatients, FHIR: patientFHIR}
	// CalendarEvents emits new or updated calendar events of an organization or groups.
	CalendarEvents = &UpdatedTrigger{Name: "calendarEvents", Op: actions.FetchCalendarEvents}
	// PatientHealthMetrics emits new health metrics of the patients of an organization or groups.
	PatientHealthMetrics = &MetricsTrigger{Name: "patientHealthMetrics", Patients: actions.FetchPatients,
		Metrics: actions.FetchPatientHealthMetrics}
)

// Registry maps each trigger name of component.json to its implementation.
// It is explicit on purpose: no init() registration.
var Registry = map[string]component.Function{
	"patients":             Patients,
	"calendarEvents":       CalendarEvents,
	"patientHealthMetrics": PatientHealthMetrics,
}
