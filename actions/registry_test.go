package actions

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	connector "github.com/fitbitplus/connector"
	"github.com/fitbitplus/connector/lib/manifest"
	"github.com/fitbitplus/connector/lib/rest"
)

// TestRegistryMatchesComponentJSON: the registry holds exactly the actions
// of component.json that the generator wrote (all but the overlay's).
func TestRegistryMatchesComponentJSON(t *testing.T) {
	c, err := manifest.Parse(connector.ComponentJSON)
	if err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(c.Actions)
	overlay, err := os.ReadFile("../component.overlay.json")
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		t.Fatal(err)
	default:
		o, err := manifest.Parse(overlay)
		if err != nil {
			t.Fatal(err)
		}
		for name := range o.Actions {
			delete(want, name)
		}
	}
	got, wantNames := slices.Sorted(maps.Keys(Registry)), slices.Sorted(maps.Keys(want))
	if !slices.Equal(got, wantNames) {
		t.Fatalf("registry %v\ncomponent.json actions (without the overlay's) %v", got, wantNames)
	}
	for name, f := range Registry {
		op, ok := f.(*rest.Operation)
		if !ok || op.ID != name {
			t.Errorf("Registry[%q] is not the operation %q", name, name)
			continue
		}
		main := want[name].Main
		if _, err := os.Stat(strings.TrimPrefix(main, "./actions/")); err != nil || !strings.HasPrefix(main, "./actions/") {
			t.Errorf("action %q: main %q is not a file under actions/", name, main)
		}
	}
}

// TestRegistryHasEveryOperationOfSwaggerJSON: one action per operationId of
// the bundled swagger.json (58), each with typed in and out metadata.
func TestRegistryHasEveryOperationOfSwaggerJSON(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(connector.SwaggerJSON, &doc); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, item := range doc.Paths {
		for method, raw := range item {
			if method == "parameters" || strings.HasPrefix(method, "x-") {
				continue
			}
			var op struct {
				OperationID string `json:"operationId"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, op.OperationID)
		}
	}
	slices.Sort(ids)
	if got := slices.Sorted(maps.Keys(Registry)); !slices.Equal(got, ids) {
		t.Fatalf("registry %v\nswagger.json operationIds %v", got, ids)
	}
	if len(ids) != 58 {
		t.Errorf("%d operations, want the API's 58", len(ids))
	}
	c, err := manifest.Parse(connector.ComponentJSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		a := c.Actions[id]
		if a == nil || a.Metadata == nil || a.Metadata.In == nil || a.Metadata.Out == nil {
			t.Errorf("action %q: no in/out metadata", id)
			continue
		}
		if a.Metadata.In.Type != "object" || a.Metadata.Out.Type == "" {
			t.Errorf("action %q: in type %q, out type %q", id, a.Metadata.In.Type, a.Metadata.Out.Type)
		}
	}
}
