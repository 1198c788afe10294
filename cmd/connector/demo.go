package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/localrun"
	"github.com/fitbitplus/connector/lib/sandbox"
)

// cmdDemo runs a short EMR-sync flow against the in-process sandbox through the
// same dispatch, authentication and event handling as the worker.
func cmdDemo(ctx context.Context, c *cli, args []string) error {
	if len(args) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("demo takes no arguments")}
	}
	sb, err := startSandbox()
	if err != nil {
		return err
	}
	defer sb.Close()
	seed := sb.Seeded()
	cfg := component.Config{}
	pointAtSandbox(cfg, sb)
	clients, err := newAPIProvider(c)
	if err != nil {
		return err
	}
	d := &demo{w: c.Stdout, runner: &localrun.Runner{Functions: functions(), API: clients, Log: stderrLogger(c)}}

	d.printf("Fitbit Plus connector demo, against the sandbox at %s\n", sb.BaseURL())
	d.printf("(the same actions, token handling and events as on the platform; no setup, no production data)\n\n")

	d.printf("1. Check the credential (verifyCredentials): client %q\n", seed.ClientID)
	org, err := clients.VerifyCredentials(ctx, cfg)
	if err != nil {
		return d.fail(err)
	}
	d.printf("   token obtained through the JSON:API token exchange; it reaches organisation %q\n\n", org)

	id := seed.PatientIdentifier
	d.printf("2. Find the patient with identifier %s|%s (fetchPatients)\n", id.System, id.Value)
	found, err := d.run(ctx, "fetchPatients", cfg, map[string]any{
		"filter": map[string]any{"organization": seed.OrganizationID, "identifier": map[string]any{"system": id.System, "value": id.Value}},
	})
	if err != nil {
		return d.fail(err)
	}
	patients := dataArray(found[0])
	if len(patients) != 1 {
		return d.fail(fmt.Errorf("expected one patient, found %d", len(patients)))
	}
	patientID, _ := patients[0]["id"].(string)
	d.printf("   found patient %s\n\n", patientID)

	d.printf("3. Record three health metrics for that patient, addressed by identifier, in one bulk request (createPatientHealthMetric)\n")
	now := time.Now().UTC().Truncate(time.Second)
	metrics := []map[string]any{
		metric(id, seed.OrganizationID, "weight", "29463-7", 82.5, "kg", now.Add(-2*time.Hour)),
		metric(id, seed.OrganizationID, "heart_rate", "8867-4", 64, "bpm", now.Add(-time.Hour)),
		metric(id, seed.OrganizationID, "oxygen_saturation", "59408-5", 97, "%", now),
	}
	created, err := d.run(ctx, "createPatientHealthMetric", cfg, map[string]any{"requestBody": map[string]any{"data": metrics}})
	if err != nil {
		return d.fail(err)
	}
	createdMetrics := dataArray(created[0])
	for _, m := range createdMetrics {
		attrs, _ := m["attributes"].(map[string]any)
		d.printf("   created %v: %v = %v %v\n", m["id"], attrs["type"], attrs["value"], attrs["unit"])
	}
	d.printf("\n")

	d.printf("4. List all of the patient's metrics, 5 per page, following the cursor links (fetchPatientHealthMetrics, fetchAll)\n")
	pageCfg := component.Config{"fetchAll": true}
	for k, v := range cfg {
		pageCfg[k] = v
	}
	pages, err := d.run(ctx, "fetchPatientHealthMetrics", pageCfg, map[string]any{
		"filter": map[string]any{"patient": patientID}, "page": map[string]any{"limit": 5},
	})
	if err != nil {
		return d.fail(err)
	}
	total, count := 0, 0
	for i, p := range pages {
		n := len(dataArray(p))
		total += n
		if meta, ok := p["meta"].(map[string]any); ok {
			if c, ok := meta["count"].(float64); ok {
				count = int(c)
			}
		}
		d.printf("   page %d: %d metrics\n", i+1, n)
	}
	d.printf("   %d metrics in %d pages; the API counts %d: complete=%v\n\n", total, len(pages), count, total == count)

	d.printf("5. Turn the first new metric into a FHIR R4 Observation for the EMR (toFhirObservation)\n")
	obs, err := d.run(ctx, "toFhirObservation", cfg, map[string]any{
		"metric":            map[string]any{"data": createdMetrics[0]},
		"patientIdentifier": map[string]any{"system": id.System, "value": id.Value},
	})
	if err != nil {
		return d.fail(err)
	}
	o := obs[0]
	code, _ := o["code"].(map[string]any)
	coding, _ := code["coding"].([]any)
	first, _ := coding[0].(map[string]any)
	q, _ := o["valueQuantity"].(map[string]any)
	d.printf("   Observation %v: %v %v (%v), %v %v, effective %v\n\n", o["status"], first["system"], first["code"], first["display"], q["value"], q["unit"], o["effectiveDateTime"])

	if err := d.emrSync(ctx, cfg, seed, patientID, pages); err != nil {
		return d.fail(err)
	}

	st := sb.Stats()
	d.printf("Done: %d API requests, %d token exchange(s) for the whole flow.\n", st.Requests, st.TokenExchanges)
	d.printf("Next: try any action against a sandbox of its own with `exec`, e.g. (from the repository)\n")
	d.printf("  echo '{\"filter\":{\"patient\":%q}}' | go run ./cmd/connector exec fetchPatientHealthMetrics --sandbox\n", patientID)
	return d.err
}

// demoEMRSystem is the identifier system of the demo's EMR for its medical
// record numbers (an OID of the HL7 example range).
const demoEMRSystem = "urn:oid:2.16.840.1.113883.19.5"

// emrSync shows both directions of an EMR sync: the patient and all their
// metrics as one transaction Bundle for the EMR's FHIR server, and the EMR's
// Patient upserted back into Fitbit Plus, twice, as a redelivery would.
func (d *demo) emrSync(ctx context.Context, cfg component.Config, seed sandbox.Seeded, patientID string, pages []map[string]any) error {
	id := seed.PatientIdentifier
	d.printf("6. Send the patient and all their metrics to the EMR as one FHIR transaction Bundle (fetchPatient, toFhirPatient)\n")
	patient, err := d.run(ctx, "fetchPatient", cfg, map[string]any{"id": patientID})
	if err != nil {
		return err
	}
	var metrics []any
	for _, p := range pages {
		for _, m := range dataArray(p) {
			metrics = append(metrics, m)
		}
	}
	bundles, err := d.run(ctx, "toFhirPatient", cfg, map[string]any{"patient": patient[0], "metrics": metrics, "output": "bundle",
		"identifierSystem": demoEMRSystem, "fitbitIdentifierSystem": id.System})
	if err != nil {
		return err
	}
	entries, _ := bundles[0]["entry"].([]any)
	counts := map[string]int{}
	var patientRequest map[string]any
	var emrPatient any
	for _, e := range entries {
		entry, _ := e.(map[string]any)
		res, _ := entry["resource"].(map[string]any)
		rt, _ := res["resourceType"].(string)
		counts[rt]++
		if rt == "Patient" {
			patientRequest, _ = entry["request"].(map[string]any)
			emrPatient = res
		}
	}
	d.printf("   Bundle %v with %d entries: %d Patient, %d Observations, each a conditional create\n",
		bundles[0]["type"], len(entries), counts["Patient"], counts["Observation"])
	d.printf("   Patient: %v %v if none exists with %v\n", patientRequest["method"], patientRequest["url"], patientRequest["ifNoneExist"])
	d.printf("   POST it to the FHIR server's base URL (Content-Type application/fhir+json); posting it twice creates nothing twice\n\n")

	d.printf("7. The EMR's Patient comes back to Fitbit Plus (fromFhirPatient), upserted twice as a redelivery would (upsertPatient)\n")
	doc, err := d.run(ctx, "fromFhirPatient", cfg, map[string]any{"patient": emrPatient, "identifierSystem": demoEMRSystem,
		"fitbitIdentifierSystem": id.System, "groups": seed.GroupIDs[0]})
	if err != nil {
		return err
	}
	var ids []any
	for range 2 {
		up, err := d.run(ctx, "upsertPatient", cfg, map[string]any{"requestBody": doc[0]})
		if err != nil {
			return err
		}
		ids = append(ids, dataArray(up[0])[0]["id"])
	}
	d.printf("   matched on %s|%s: patient %v, then %v again: same patient=%v\n\n", id.System, id.Value, ids[0], ids[1], ids[0] == ids[1] && ids[0] == patientID)
	return nil
}

type demo struct {
	w      io.Writer
	runner *localrun.Runner
	err    error
}

func (d *demo) printf(format string, a ...any) {
	if _, err := fmt.Fprintf(d.w, format, a...); err != nil && d.err == nil {
		d.err = err
	}
}

func (d *demo) fail(err error) error {
	d.printf("   FAILED: %v\n", err)
	return &exitError{code: 1, err: err}
}

// run runs one function on one input and returns the bodies of its data
// events; an error event fails the step.
func (d *demo) run(ctx context.Context, name string, cfg component.Config, input map[string]any) ([]map[string]any, error) {
	body, err := json.Marshal(input)
	if err != nil {
		return nil, err
	}
	var bodies []map[string]any
	var failure error
	d.runner.OnEvent = func(ev localrun.Event) {
		switch ev.Event {
		case "data":
			m := ev.Payload.(*component.Message)
			var b map[string]any
			if err := json.Unmarshal(m.Body, &b); err == nil {
				bodies = append(bodies, b)
			}
		case "error", "rebound":
			failure = fmt.Errorf("%s: %s event: %v", name, ev.Event, ev.Payload)
		}
	}
	if _, err := d.runner.Run(ctx, name, cfg, nil, []*component.Message{{Body: body}}); err != nil {
		return nil, err
	}
	if failure != nil {
		return nil, failure
	}
	if len(bodies) == 0 {
		return nil, fmt.Errorf("%s emitted no data", name)
	}
	return bodies, nil
}

// dataArray returns the resources of a JSON:API document's data (one or many).
func dataArray(doc map[string]any) []map[string]any {
	var out []map[string]any
	switch v := doc["data"].(type) {
	case []any:
		for _, r := range v {
			if m, ok := r.(map[string]any); ok {
				out = append(out, m)
			}
		}
	case map[string]any:
		out = append(out, v)
	}
	return out
}

// metric builds one patient_health_metric resource that addresses its patient
// by identifier (meta.query), as an EMR would.
func metric(id sandbox.Identifier, org, typ, loinc string, value float64, unit string, at time.Time) map[string]any {
	return map[string]any{
		"type": "patient_health_metric",
		"attributes": map[string]any{
			"type": typ, "code": map[string]any{"system": "LOINC", "value": loinc},
			"value": value, "unit": unit, "occurred_at": at.Format(time.RFC3339),
		},
		"relationships": map[string]any{"patient": map[string]any{"data": map[string]any{
			"type": "patient",
			"meta": map[string]any{"query": map[string]any{
				"identifier":   map[string]any{"system": id.System, "value": id.Value},
				"organization": org,
			}},
		}}},
	}
}
