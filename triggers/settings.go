package triggers

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fhir"
	"github.com/fitbitplus/connector/lib/fitbitplus"
)

// Step fields of the triggers (cfg). component.overlay.json gives their labels.
const (
	FieldOrganization = "organization" // organization id
	FieldGroups       = "groups"       // comma-separated group ids
	FieldStartTime    = "startTime"    // ISO date-time of the first poll's window start
	FieldLookback     = "lookback"     // how far each window reaches back before the watermark
	FieldPageSize     = "pageSize"     // page[limit] of the list requests
	FieldMetricTypes  = "metricTypes"  // comma-separated metric types (patientHealthMetrics)
	FieldOutput       = "output"       // patients, patientHealthMetrics: OutputJSONAPI (default), OutputFHIR, OutputFHIRBundle
	// patients, FHIR output: the EMR's identifier system and the name
	// Fitbit Plus stores that identifier under (fhir.PatientOptions).
	FieldIdentifierSystem       = "identifierSystem"
	FieldFitbitIdentifierSystem = "fitbitIdentifierSystem"
)

// Values of the output field.
const (
	OutputJSONAPI    = "jsonapi"    // the resource's JSON:API single-resource document
	OutputFHIR       = "fhir"       // a FHIR R4 Observation or Patient (lib/fhir)
	OutputFHIRBundle = "fhirBundle" // a FHIR R4 transaction Bundle holding it, safe to post twice
)

// Defaults and bounds of the fields.
const (
	DefaultStartAgo = 24 * time.Hour  // startTime when empty: 24 h before the first poll
	DefaultLookback = 5 * time.Minute // lookback when empty
	MaxLookback     = 24 * time.Hour
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// timeFormat is how the triggers write date-times (filters and snapshots).
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// settings are the parsed step fields.
type settings struct {
	org         string
	groups      string
	start       time.Time
	lookback    time.Duration
	pageSize    int
	metricTypes []string // sorted; empty: every type
	fhir        bool     // emit FHIR resources instead of JSON:API documents
	bundle      bool     // ... each in a transaction Bundle
	fhirIDs     fhir.PatientOptions
}

// readSettings parses the step fields; now is the poll's time (for the
// default start). A bad value is an InputError naming the field.
func readSettings(cfg component.Config, now time.Time) (settings, error) {
	s := settings{org: strings.TrimSpace(cfg.String(FieldOrganization)), lookback: DefaultLookback,
		pageSize: DefaultPageSize, start: now.Add(-DefaultStartAgo)}
	s.groups = strings.Join(splitList(cfg.String(FieldGroups)), ",")
	if s.org == "" && s.groups == "" {
		return s, &component.InputError{Field: FieldOrganization, Reason: "set an organization or groups"}
	}
	if v := strings.TrimSpace(cfg.String(FieldStartTime)); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return s, &component.InputError{Field: FieldStartTime, Reason: "must be an ISO date-time such as 2024-05-01T00:00:00Z"}
		}
		s.start = t.UTC().Truncate(time.Millisecond)
	}
	if v, ok := cfg[FieldLookback]; ok && v != nil && v != "" {
		d, err := duration(v)
		if err != nil || d < 0 || d > MaxLookback {
			return s, &component.InputError{Field: FieldLookback,
				Reason: "must be a duration such as 5m or 90s (or seconds), at most 24h"}
		}
		s.lookback = d.Truncate(time.Millisecond)
	}
	if v, ok := cfg[FieldPageSize]; ok && v != nil && v != "" {
		n, err := wholeNumber(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return s, &component.InputError{Field: FieldPageSize, Reason: fmt.Sprintf("must be a whole number from 1 to %d", MaxPageSize)}
		}
		s.pageSize = n
	}
	for _, t := range splitList(cfg.String(FieldMetricTypes)) {
		s.metricTypes = append(s.metricTypes, strings.ToLower(t))
	}
	slices.Sort(s.metricTypes)
	s.metricTypes = slices.Compact(s.metricTypes)
	switch out := strings.TrimSpace(cfg.String(FieldOutput)); out {
	case "", OutputJSONAPI:
	case OutputFHIR:
		s.fhir = true
	case OutputFHIRBundle:
		s.fhir, s.bundle = true, true
	default:
		return s, &component.InputError{Field: FieldOutput,
			Reason: fmt.Sprintf("must be %q, %q or %q, not %q", OutputJSONAPI, OutputFHIR, OutputFHIRBundle, out)}
	}
	s.fhirIDs = fhir.PatientOptions{IdentifierSystem: strings.TrimSpace(cfg.String(FieldIdentifierSystem)),
		FitbitIdentifierSystem: strings.TrimSpace(cfg.String(FieldFitbitIdentifierSystem))}
	return s, nil
}

// scope identifies what a snapshot was made for: the trigger and the fields
// that choose the resources. A snapshot of another scope is not reused.
func (s settings) scope(trigger string) string {
	sum := sha256.Sum256([]byte(trigger + "\x00" + s.org + "\x00" + s.groups + "\x00" + strings.Join(s.metricTypes, ",")))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

// filter is the organization/groups part of a list input.
func (s settings) filter() map[string]any {
	f := map[string]any{}
	if s.org != "" {
		f["organization"] = s.org
	}
	if s.groups != "" {
		f["groups"] = s.groups
	}
	return f
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// duration reads a Go duration ("5m", "90s") or a number of seconds.
func duration(v any) (time.Duration, error) {
	switch v := v.(type) {
	case string:
		v = strings.TrimSpace(v)
		if d, err := time.ParseDuration(v); err == nil {
			return d, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, err
		}
		return secs(f)
	case float64:
		return secs(v)
	case int:
		return secs(float64(v))
	}
	return 0, errors.New("not a duration")
}

func secs(f float64) (time.Duration, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f > 1e9 {
		return 0, errors.New("not a duration")
	}
	return time.Duration(f * float64(time.Second)), nil
}

func wholeNumber(v any) (int, error) {
	var f float64
	switch v := v.(type) {
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			return 0, err
		}
	case float64:
		f = v
	case int:
		return v, nil
	default:
		return 0, errors.New("not a number")
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, errors.New("not a whole number")
	}
	return int(f), nil
}

// pollError makes the error a failed poll returns: a plain error (the
// runtime emits it; the next scheduled poll resumes from the snapshot), not
// a rebound of the schedule's tick. Credential and API errors keep their
// type.
func pollError(trigger string, err error) error {
	if err == nil {
		return nil
	}
	var rb *component.ReboundError
	if errors.As(err, &rb) {
		err = rb.Err
	}
	var apiErr *fitbitplus.APIError
	var ce *fitbitplus.CredentialError
	var ie *component.InputError
	if errors.As(err, &apiErr) || errors.As(err, &ce) || errors.As(err, &ie) {
		return err
	}
	return fmt.Errorf("%s trigger: %w", trigger, err)
}
