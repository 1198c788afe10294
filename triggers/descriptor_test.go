package triggers

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	connector "github.com/fitbitplus/connector"
)

// TestDescriptorMatchesRegistry: component.json (through
// component.overlay.json) names exactly the registered triggers, each
// polling, with a main file that exists, the fields the code reads, and a
// typed out schema.
func TestDescriptorMatchesRegistry(t *testing.T) {
	b := connector.ComponentJSON
	var d struct {
		Triggers map[string]struct {
			Main     string                     `json:"main"`
			Type     string                     `json:"type"`
			Title    string                     `json:"title"`
			Fields   map[string]map[string]any  `json:"fields"`
			Metadata map[string]json.RawMessage `json:"metadata"`
		} `json:"triggers"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(maps.Keys(d.Triggers)), slices.Sorted(maps.Keys(Registry)); !slices.Equal(got, want) {
		t.Fatalf("descriptor %v, registry %v", got, want)
	}
	common := []string{FieldOrganization, FieldGroups, FieldStartTime, FieldPageSize, FieldLookback}
	for name, tr := range d.Triggers {
		if tr.Type != "polling" || tr.Title == "" {
			t.Errorf("%s: type %q title %q", name, tr.Type, tr.Title)
		}
		if _, err := os.Stat(strings.TrimPrefix(tr.Main, "./triggers/")); err != nil {
			t.Errorf("%s: main %s: %v", name, tr.Main, err)
		}
		want := common
		if name == "patientHealthMetrics" {
			want = append(want, FieldMetricTypes)
		}
		for _, f := range want {
			fd, ok := tr.Fields[f]
			if !ok || fd["label"] == "" || fd["viewClass"] != "TextFieldView" {
				t.Errorf("%s: field %s: %v", name, f, fd)
			}
		}
		var out struct {
			Properties map[string]map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(tr.Metadata["out"], &out); err != nil || out.Properties["data"]["type"] != "object" ||
			out.Properties["meta"] == nil {
			t.Errorf("%s: out schema %s", name, tr.Metadata["out"])
		}
	}
}
