package manifest

import (
	"bytes"
	"strings"
	"testing"

	connector "github.com/fitbitplus/connector"
)

func TestMarshalIsSortedIndentedAndKeepsUnknownKeys(t *testing.T) {
	in := `{"version":"1","title":"T <b>","description":"d","x-custom":{"b":1,"a":2},
	"actions":{"z":{"main":"./z.go","title":"Z","order":3,"metadata":{"in":{"type":"object","properties":{"q":{"type":"string","required":true,"default":"x"}}}}}}}`
	c, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "actions": {
    "z": {
      "main": "./z.go",
      "metadata": {
        "in": {
          "properties": {
            "q": {
              "default": "x",
              "required": true,
              "type": "string"
            }
          },
          "type": "object"
        }
      },
      "order": 3,
      "title": "Z"
    }
  },
  "description": "d",
  "title": "T <b>",
  "version": "1",
  "x-custom": {
    "a": 2,
    "b": 1
  }
}
`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// TestBundledComponentRoundTrips: reading component.json and writing it
// back changes nothing, overlay parts included.
func TestBundledComponentRoundTrips(t *testing.T) {
	if len(connector.ComponentJSON) < 100 {
		t.Skip("component.json is a placeholder")
	}
	c, err := Parse(connector.ComponentJSON)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, connector.ComponentJSON) {
		t.Error("component.json changed in a parse/marshal round trip")
	}
}

func TestParseRejectsArrayRequired(t *testing.T) {
	_, err := Parse([]byte(`{"actions":{"a":{"main":"m","title":"A","metadata":{"in":{"type":"object","required":["x"]}}}}}`))
	if err == nil || !strings.Contains(err.Error(), "required") {
		t.Fatalf("error %v, want one about required (the platform wants a boolean per property)", err)
	}
}

func TestMerge(t *testing.T) {
	c := &Component{Actions: map[string]*Function{"gen": {Main: "g", Title: "G"}}}
	overlay := &Component{
		Actions:  map[string]*Function{"hand": {Main: "h", Title: "H"}},
		Triggers: map[string]*Function{"poll": {Main: "p", Title: "P", Type: "polling"}},
	}
	if err := c.Merge(overlay); err != nil {
		t.Fatal(err)
	}
	if c.Actions["hand"] == nil || c.Actions["gen"] == nil || c.Triggers["poll"] == nil {
		t.Errorf("merge lost something: actions %v triggers %v", c.Actions, c.Triggers)
	}
	err := c.Merge(&Component{Actions: map[string]*Function{"gen": {Main: "x", Title: "X"}}})
	if err == nil || !strings.Contains(err.Error(), `overlay action "gen"`) {
		t.Errorf("clash: error %v, want one naming the action", err)
	}
}
