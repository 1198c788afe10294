package gen

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/manifest"
	"github.com/fitbitplus/connector/lib/rest"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// upstreamSpec is the Fitbit Plus spec as published, defects included (see
// testdata/README.md at the repository root).
var upstreamSpec = filepath.Join("..", "..", "testdata", "fitbitplus-v7.78.1-upstream.openapi3.json")

const upstreamBase = "https://api.twinehealth.com/pub"

// TestGenerateFromTheUpstreamSpec generates from the spec as published into
// a temporary directory: every operation becomes an action with a warning
// per defect worked around, the generated actions build in place of the
// repository's, and every action builds, from its minimal input, the
// request the upstream describes, which its own rules accept.
func TestGenerateFromTheUpstreamSpec(t *testing.T) {
	data, err := os.ReadFile(upstreamSpec)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Generate(data, Options{SpecName: filepath.Base(upstreamSpec)})
	if err != nil {
		t.Fatalf("generate from the upstream spec: %v", err)
	}
	if len(res.Operations) != 58 {
		t.Errorf("%d actions, want 58", len(res.Operations))
	}
	if len(res.Warnings) == 0 {
		t.Error("no warnings: the upstream's invalid examples went unnoticed")
	}
	for _, w := range res.Warnings {
		if !strings.HasPrefix(w.Where, "paths./") && !strings.HasPrefix(w.Where, "components.") {
			t.Errorf("warning does not name a place: %s", w)
		}
		if !strings.Contains(w.What, "example does not match the schema") {
			t.Errorf("unexpected kind of warning (the upstream's defects are its examples): %s", w)
		}
	}

	dir := t.TempDir()
	if _, err := Write(dir, res.Files); err != nil {
		t.Fatal(err)
	}
	buildInPlaceOfActions(t, dir)

	var c manifest.Component
	if err := json.Unmarshal(res.Files[ComponentFile], &c); err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: upstreamBase}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range res.Operations {
		t.Run(op.ID, func(t *testing.T) {
			input := manifest.MinimalInput(c.Actions[op.ID].Metadata.In)
			req, err := rest.BuildRequest(context.Background(), op, upstreamBase, input)
			if err != nil {
				t.Fatalf("build request from %v: %v", input, err)
			}
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("%s %s: no route: %v", req.Method, req.URL, err)
			}
			if route.Operation.OperationID != op.ID || route.Method != req.Method {
				t.Fatalf("%s %s routes to %s %s", req.Method, req.URL, route.Method, route.Operation.OperationID)
			}
			checkParams(t, req, op, route.Operation, input)
			err = openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			})
			if err != nil {
				t.Errorf("%s %s from %v rejected by the upstream's rules: %v", req.Method, req.URL, input, firstLine(err))
			}
		})
	}
}

// checkParams checks that each required parameter went where the upstream
// declares it.
func checkParams(t *testing.T, req *http.Request, op *rest.Operation, upstream *openapi3.Operation, input map[string]any) {
	t.Helper()
	for _, p := range upstream.Parameters {
		if p.Value == nil || !p.Value.Required {
			continue
		}
		switch p.Value.In {
		case "query":
			if !req.URL.Query().Has(p.Value.Name) {
				t.Errorf("required query parameter %s missing from %s", p.Value.Name, req.URL)
			}
		case "path":
			if strings.Contains(req.URL.Path, "{") {
				t.Errorf("path %s keeps a template", req.URL.Path)
			}
		}
	}
	if (op.Body != nil && op.Body.Required) != (req.Body != nil) {
		t.Errorf("body %v for an operation whose body is required: %v", req.Body != nil, op.Body != nil && op.Body.Required)
	}
}

// buildInPlaceOfActions compiles the generated actions/ of dir as the
// repository's actions package (go build -overlay: the repository's
// generated files are replaced, its hand-written ones kept), bounded in time.
func buildInPlaceOfActions(t *testing.T, dir string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the generated actions with")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	replace := map[string]string{}
	existing, err := filepath.Glob(filepath.Join(root, ActionsDir, "*"+GoSuffix))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range existing {
		replace[f] = "" // deleted unless generated again
	}
	generated, err := filepath.Glob(filepath.Join(dir, ActionsDir, "*"+GoSuffix))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range generated {
		replace[filepath.Join(root, ActionsDir, filepath.Base(f))] = f
	}
	overlay, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(t.TempDir(), "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-overlay", overlayFile, "./"+ActionsDir)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the generated actions: %v\n%s", err, out)
	}
	if n := len(slices.Collect(maps.Keys(replace))); n < 59 {
		t.Errorf("overlay of %d files, want the 58 actions and the registry", n)
	}
}

func firstLine(err error) string {
	line, _, _ := strings.Cut(fmt.Sprint(err), "\n")
	return line
}
