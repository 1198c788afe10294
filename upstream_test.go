package connector_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	connector "github.com/fitbitplus/connector"
	"github.com/fitbitplus/connector/actions"
	"github.com/fitbitplus/connector/lib/manifest"
	"github.com/fitbitplus/connector/lib/rest"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// upstreamSpec is the Fitbit Plus spec as published (see testdata/README.md).
const upstreamSpec = "testdata/fitbitplus-v7.78.1-upstream.openapi3.json"

// TestMinimalInputsAgainstTheUpstream sends every action's minimal input
// (only the fields its metadata.in marks required) through the action's
// request building, and checks the request against the upstream spec's own
// request rules. What the upstream rejects is a difference between our
// swagger.json and the upstream: it must be one of acceptedDifferences
// (each a defect of the upstream that our spec fixes, see
// docs/swagger-differences.md). A new difference fails, and so does a listed
// one that no longer appears.
func TestMinimalInputsAgainstTheUpstream(t *testing.T) {
	data, err := os.ReadFile(upstreamSpec)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: serverURL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := manifest.Parse(connector.ComponentJSON)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(actions.Registry)) {
		op := actions.Registry[name].(*rest.Operation)
		input := manifest.MinimalInput(c.Actions[name].Metadata.In)
		req, err := rest.BuildRequest(context.Background(), op, serverURL, input)
		if err != nil {
			t.Errorf("%s: minimal input %v: %v", name, input, err)
			continue
		}
		route, params, err := router.FindRoute(req)
		if err != nil || route.Operation.OperationID != name {
			t.Errorf("%s: %s %s does not route to it upstream: %v", name, req.Method, req.URL, err)
			continue
		}
		err = openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		})
		for _, rule := range violations(err) {
			got[name] = append(got[name], rule)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		for _, rule := range got[name] {
			if _, ok := acceptedDifferences[name][rule]; !ok {
				t.Errorf("%s: the upstream rejects the minimal input: %s (make it required in swagger.json, or accept the difference with its reason)", name, rule)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(acceptedDifferences)) {
		for _, rule := range slices.Sorted(maps.Keys(acceptedDifferences[name])) {
			if !slices.Contains(got[name], rule) {
				t.Errorf("%s: accepted difference %q no longer appears: take it off the list", name, rule)
			}
		}
	}
}

var errorAt = regexp.MustCompile(`Error at "([^"]*)": (.*)`)

// violations lists the rules a request breaks, one line each:
// "body /data/id: property \"id\" is missing".
func violations(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	var walk func(error)
	walk = func(err error) {
		var me openapi3.MultiError
		if errors.As(err, &me) {
			for _, e := range me {
				walk(e)
			}
			return
		}
		var re *openapi3filter.RequestError
		if errors.As(err, &re) && re.Parameter != nil {
			out = append(out, fmt.Sprintf("parameter %s: %s", re.Parameter.Name, re.Reason))
			return
		}
		line, _, _ := strings.Cut(err.Error(), "\n")
		if m := errorAt.FindStringSubmatch(line); m != nil {
			line = "body " + m[1] + ": " + m[2]
		}
		out = append(out, line)
	}
	walk(err)
	slices.Sort(out)
	return slices.Compact(out)
}

// acceptedDifferences: per action, the upstream rules that reject its
// minimal input, each a defect of the upstream spec that our swagger.json
// fixes (docs/swagger-differences.md says why).
var acceptedDifferences = map[string]map[string]string{
	"createAction": {`body /data/id: property "id" is missing`: createWithoutID},
	"createBundle": {`body /data/id: property "id" is missing`: createWithoutID},
	"createGroup":  {`body /data/id: property "id" is missing`: createWithoutID},
	"createPatientHealthMetric": {`body /data: value must be an object`: "bulk: the API takes an array of " +
		"resources in data, which the upstream does not model; the action's input offers the array, the more general form"},
	"createRewardEarning": {`body /data: value must be an object`: "bulk: the API takes an array of " +
		"resources in data, which the upstream does not model; the action's input offers the array, the more general form"},
	"createToken": {`body /data: property "data" is missing`: "Swagger 2.0 gives a body one schema for all its media " +
		"types, and the token exchange takes two forms: the JSON:API one (application/vnd.api+json, data required) and " +
		"the flat one (application/json), which the upstream's schema wrongly gives a data member too. Our schema is " +
		"the union of both, so data cannot be required in it; the sandbox refuses a JSON:API token request without data, " +
		"as the API does"},
}

const createWithoutID = "JSON:API 1.0 makes data.id optional in a create document (the server assigns the id); " +
	"the upstream requires it"
