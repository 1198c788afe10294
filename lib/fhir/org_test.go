package fhir

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/fitbitplus/connector/actions"
	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fitbitplus"
	"github.com/fitbitplus/connector/lib/rest"
	"github.com/fitbitplus/connector/lib/sandbox"
)

// emrMRN is the system URI of the medical record numbers in the tests' EMR.
const emrMRN = "urn:oid:2.16.840.1.113883.19.5"

// org is the sandbox's seeded organisation as the API returns it.
type org struct {
	seed     sandbox.Seeded
	client   component.APIClient
	patients [][]byte                     // single-patient documents, as fetchPatient answers
	metrics  map[string][]json.RawMessage // patient id -> metric resources
}

func seededOrg(t *testing.T) *org {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	clients := fitbitplus.NewClients(fitbitplus.Defaults{ClientID: sandbox.DefaultClientID,
		ClientSecret: sandbox.DefaultClientSecret}, nil)
	cfg := component.Config{"server": fitbitplus.CustomServer, "otherServer": srv.URL + sandbox.BasePath}
	ctx := context.Background()
	client, err := clients.Client(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := &org{seed: sb.Seeded(), client: client, metrics: map[string][]json.RawMessage{}}
	_, err = rest.Walk(ctx, actions.FetchPatients, client, map[string]any{
		"filter": map[string]any{"organization": o.seed.OrganizationID}, "page": map[string]any{"limit": 50}},
		rest.WalkOptions{}, func(pg *rest.Page) error {
			for _, raw := range pg.Data {
				doc, err := rest.SingleDocument(raw, pg.Included, nil)
				if err != nil {
					return err
				}
				o.patients = append(o.patients, doc)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.patients) != len(o.seed.PatientIDs) {
		t.Fatalf("fetched %d patients, the seed has %d", len(o.patients), len(o.seed.PatientIDs))
	}
	for _, id := range o.seed.PatientIDs {
		_, err := rest.Walk(ctx, actions.FetchPatientHealthMetrics, client, map[string]any{
			"filter": map[string]any{"patient": id}, "page": map[string]any{"limit": 50}},
			rest.WalkOptions{}, func(pg *rest.Page) error {
				o.metrics[id] = append(o.metrics[id], pg.Data...)
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	return o
}

func patientID(t *testing.T, doc []byte) string {
	var d struct{ Data struct{ ID string } }
	if err := json.Unmarshal(doc, &d); err != nil || d.Data.ID == "" {
		t.Fatalf("not a patient document: %s", doc)
	}
	return d.Data.ID
}

// TestWholeSeededOrganisation maps every patient and every metric of the
// seeded organisation, as resources and as Bundles, and validates each
// against the FHIR R4 schema and the Bundle rules the schema cannot check.
func TestWholeSeededOrganisation(t *testing.T) {
	o := seededOrg(t)
	types := map[string]bool{}
	metrics, withAddress, withFax := 0, 0, 0
	for _, doc := range o.patients {
		id := patientID(t, doc)
		for _, opts := range []PatientOptions{{}, {IdentifierSystem: emrMRN, FitbitIdentifierSystem: "medical-record-number"}} {
			p, err := ToPatient(doc, opts)
			if err != nil {
				t.Fatalf("patient %s: %v", id, err)
			}
			validateFHIR(t, p)
			if len(p.Address) > 0 {
				withAddress++
			}
			if slices.ContainsFunc(p.Telecom, func(c ContactPoint) bool { return c.System == "fax" }) {
				withFax++
			}
			b, err := PatientBundle(p, opts, toAny(t, o.metrics[id]))
			if err != nil {
				t.Fatalf("patient %s bundle: %v", id, err)
			}
			validateFHIR(t, b)
			checkBundle(t, b)
			if len(b.Entry) != 1+len(o.metrics[id]) {
				t.Errorf("patient %s: %d entries for %d metrics", id, len(b.Entry), len(o.metrics[id]))
			}
			checkRoundTrip(t, doc, p, opts)
		}
		for _, raw := range o.metrics[id] {
			obs, err := ToObservation(raw, ToOptions{RequestID: "r1"})
			if err != nil {
				t.Fatalf("metric of %s: %v", id, err)
			}
			validateFHIR(t, obs)
			var m struct{ Attributes struct{ Type string } }
			_ = json.Unmarshal(raw, &m)
			types[m.Attributes.Type] = true
			metrics++
			b, err := TransactionBundle(nil, nil, []*Observation{obs})
			if err != nil {
				t.Fatal(err)
			}
			validateFHIR(t, b)
			checkBundle(t, b)
		}
	}
	if metrics == 0 || len(types) < 15 || withAddress == 0 || withFax == 0 {
		t.Errorf("the seed exercised %d metrics of %d types, %d addresses, %d faxes", metrics, len(types), withAddress, withFax)
	}
}

func toAny(t *testing.T, raws []json.RawMessage) []any {
	out := make([]any, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkRoundTrip maps p back to an upsert document and compares it with the
// patient's attributes that the API accepts and FHIR holds.
func checkRoundTrip(t *testing.T, doc []byte, p *Patient, opts PatientOptions) {
	t.Helper()
	var src struct {
		Data struct {
			Attributes map[string]any `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(doc, &src); err != nil {
		t.Fatal(err)
	}
	if opts.IdentifierSystem == "" {
		opts = PatientOptions{IdentifierSystem: "medical-record-number"}
	}
	opts.Groups = []string{"g1"}
	req, err := FromPatient(mustJSON(t, p), opts)
	if err != nil {
		t.Fatalf("FromPatient: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(mustJSON(t, req.Data.Attributes), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"first_name", "last_name", "birth_date", "gender", "email_address", "archived",
		"identifiers", "phone_numbers", "addresses"} {
		if want := src.Data.Attributes[k]; !reflect.DeepEqual(got[k], want) {
			t.Errorf("round trip of %s: got %v, want %v", k, got[k], want)
		}
	}
	if q := req.Data.Meta.Query.Identifier; q.System != "medical-record-number" || q.Value == "" || req.Meta.Query.Identifier != q {
		t.Errorf("upsert query %+v / %+v", req.Data.Meta.Query, req.Meta.Query)
	}
}

// parseToken reads a token search value written by TokenParam.
func parseToken(t *testing.T, s string) Identifier {
	t.Helper()
	sys, val, ok := strings.Cut(s, "|")
	if !ok {
		t.Fatalf("token %q has no |", s)
	}
	unesc := func(p string) string {
		u, err := url.PathUnescape(p)
		if err != nil {
			t.Fatalf("token %q: %v", s, err)
		}
		return strings.NewReplacer(`\\`, `\`, `\|`, `|`, `\,`, `,`, `\$`, `$`).Replace(u)
	}
	return Identifier{System: unesc(sys), Value: unesc(val)}
}

// identifiersOf lists a Bundle resource's identifiers.
func identifiersOf(t *testing.T, res any) (string, []Identifier) {
	t.Helper()
	var r struct {
		ResourceType string       `json:"resourceType"`
		Identifier   []Identifier `json:"identifier"`
	}
	if err := json.Unmarshal(mustJSON(t, res), &r); err != nil {
		t.Fatal(err)
	}
	return r.ResourceType, r.Identifier
}

// checkBundle tests the rules of a transaction Bundle that the schema does
// not: fullUrl unique, request consistent with its entry, every conditional
// reference resolvable in the Bundle (or, with no Patient entry, a search by
// identifier), and posting it twice creating nothing the second time.
func checkBundle(t *testing.T, b *Bundle) {
	t.Helper()
	if b.Type != "transaction" || len(b.Entry) == 0 {
		t.Fatalf("bundle type %q with %d entries", b.Type, len(b.Entry))
	}
	fullURLs := map[string]bool{}
	var patients [][]Identifier
	for i, e := range b.Entry {
		if fullURLs[e.FullURL] {
			t.Errorf("entry %d: fullUrl %s repeated", i, e.FullURL)
		}
		fullURLs[e.FullURL] = true
		if _, err := uuid.Parse(strings.TrimPrefix(e.FullURL, "urn:uuid:")); err != nil || !strings.HasPrefix(e.FullURL, "urn:uuid:") {
			t.Errorf("entry %d: fullUrl %q is not a urn:uuid", i, e.FullURL)
		}
		rt, ids := identifiersOf(t, e.Resource)
		if e.Request.Method != "POST" || e.Request.URL != rt || !strings.HasPrefix(e.Request.IfNoneExist, "identifier=") {
			t.Errorf("entry %d (%s): request %+v", i, rt, e.Request)
		}
		if key := parseToken(t, strings.TrimPrefix(e.Request.IfNoneExist, "identifier=")); !slices.Contains(ids, key) {
			t.Errorf("entry %d: ifNoneExist %s is not an identifier of the resource %v", i, key, ids)
		}
		if rt == "Patient" {
			patients = append(patients, ids)
		}
	}
	for i, e := range b.Entry {
		obs, ok := e.Resource.(*Observation)
		if !ok {
			continue
		}
		ref, found := strings.CutPrefix(obs.Subject.Reference, "Patient?identifier=")
		if !found {
			t.Errorf("entry %d: subject %q is not a conditional reference", i, obs.Subject.Reference)
			continue
		}
		id := parseToken(t, ref)
		if id != *obs.Subject.Identifier || id.System == "" || id.Value == "" {
			t.Errorf("entry %d: reference %s and identifier %+v differ", i, id, obs.Subject.Identifier)
		}
		matches := 0
		for _, ids := range patients {
			if slices.Contains(ids, id) {
				matches++
			}
		}
		if len(patients) > 0 && matches != 1 {
			t.Errorf("entry %d: reference %s matches %d Patient entries", i, id, matches)
		}
	}
	// A conforming server: ifNoneExist creates only when nothing matches.
	server := map[string]bool{}
	post := func() int {
		created := 0
		for _, e := range b.Entry {
			key := e.Request.URL + "?" + e.Request.IfNoneExist
			if !server[key] {
				server[key] = true
				created++
			}
		}
		return created
	}
	if first, second := post(), post(); first != len(b.Entry) || second != 0 {
		t.Errorf("posting twice created %d then %d of %d entries", first, second, len(b.Entry))
	}
}

func TestTokenParamEscapes(t *testing.T) {
	for _, id := range []Identifier{{"https://api.twinehealth.com/pub/patient", "58c4"}, {"urn:oid:1.2.3", "a|b,c$d\\e f"},
		{"medical-record-number", "MRN 0001/ä"}} {
		tok := TokenParam(id)
		if strings.Count(tok, "|") != 1 || strings.ContainsAny(tok, " ,$") {
			t.Errorf("%+v: token %q", id, tok)
		}
		if got := parseToken(t, tok); got != id {
			t.Errorf("%+v: read back %+v from %q", id, got, tok)
		}
	}
	if got := TokenParam(Identifier{PatientIDSystem, "58c4"}); got != "https://api.twinehealth.com/pub/patient|58c4" {
		t.Errorf("plain token %q", got)
	}
}

func TestBundleRefusals(t *testing.T) {
	metric := func(id string) *Observation {
		o, err := ToObservation(metricDoc(map[string]any{"type": "heart_rate", "value": 60, "unit": "bpm"}), ToOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o.Identifier[0].Value = id
		return o
	}
	noID := metric("x")
	noID.Identifier = nil
	if _, err := TransactionBundle(nil, nil, []*Observation{noID}); !isInputErr(err, "observations.0.identifier", "required") {
		t.Errorf("no identifier: %v", err)
	}
	if _, err := TransactionBundle(nil, nil, []*Observation{metric("a"), metric("a")}); !isInputErr(err, "observations.1", "same metric") {
		t.Errorf("twice the same metric: %v", err)
	}
	p := &Patient{ResourceType: "Patient", Identifier: []PatientIdentifier{{System: PatientIDSystem, Value: "other"}}}
	if _, err := TransactionBundle(p, nil, []*Observation{metric("a")}); !isInputErr(err, "observations.0.subject.identifier", "not an identifier") {
		t.Errorf("observation of another patient: %v", err)
	}
	if _, err := TransactionBundle(p, &Identifier{System: emrMRN}, nil); !isInputErr(err, "patient.identifier", emrMRN) {
		t.Errorf("patient without the match identifier: %v", err)
	}
	doc := sampleMetric(*byType["weight"])
	pat := &Patient{ResourceType: "Patient", Identifier: []PatientIdentifier{{System: PatientIDSystem, Value: "p-other"}}}
	if _, err := PatientBundle(pat, PatientOptions{}, []any{doc}); !isInputErr(err, "metrics.0.relationships.patient", "another patient") {
		t.Errorf("metric of another patient: %v", err)
	}
}

// TestUpsertDocumentIsIdempotentInTheSandbox sends fromFhirPatient's
// document to upsertPatient twice, for a seeded patient and for a new one.
func TestUpsertDocumentIsIdempotentInTheSandbox(t *testing.T) {
	o := seededOrg(t)
	ctx := context.Background()
	upsert := func(req *UpsertRequest) string {
		t.Helper()
		var body map[string]any
		_ = json.Unmarshal(mustJSON(t, req), &body)
		hr, err := rest.BuildRequest(ctx, actions.UpsertPatient, o.client.BaseURL(), map[string]any{"requestBody": body})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := o.client.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("upsert: %d %s", resp.StatusCode, b)
		}
		return patientID(t, b)
	}
	opts := PatientOptions{IdentifierSystem: emrMRN, FitbitIdentifierSystem: "medical-record-number", Groups: []string{o.seed.GroupIDs[0]}}
	p, err := ToPatient(o.patients[0], opts)
	if err != nil {
		t.Fatal(err)
	}
	req, err := FromPatient(mustJSON(t, p), opts)
	if err != nil {
		t.Fatal(err)
	}
	first := patientID(t, o.patients[0])
	if a, b := upsert(req), upsert(req); a != first || b != first {
		t.Errorf("upsert of a seeded patient gave %s then %s, want %s", a, b, first)
	}
	emr := `{"resourceType":"Patient","identifier":[{"system":"` + emrMRN + `","value":"NEW-77",
	 "type":{"coding":[{"system":"` + IdentifierTypeSystem + `","code":"MR"}]}}],"active":true,
	 "name":[{"use":"official","family":"Quinn","given":["Ada","May"]}],"gender":"unknown","birthDate":"1980-02-29",
	 "telecom":[{"system":"phone","value":"+1-555-0999","use":"mobile","rank":1},{"system":"email","value":"ada@example.org"}],
	 "address":[{"use":"home","line":["1 Main St"],"city":"Boston","postalCode":"02110","country":"US"}]}`
	req, err = FromPatient(json.RawMessage(emr), opts)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := upsert(req), upsert(req); a == "" || a != b || slices.Contains(o.seed.PatientIDs, a) {
		t.Errorf("upsert of a new EMR patient gave %s then %s", a, b)
	}
	if got := req.Data.Attributes; got.FirstName != "Ada May" || got.Gender != "" || *got.Archived ||
		got.PhoneNumbers[0] != (PhoneNumber{Type: "mobile", Value: "+1-555-0999", Primary: true}) {
		t.Errorf("attributes %+v", got)
	}
}
