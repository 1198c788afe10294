package manifest

import (
	"slices"
	"testing"
)

func TestCompare(t *testing.T) {
	str := func(title string, required bool) *Schema {
		return &Schema{Type: "string", Title: title, Required: required}
	}
	obj := func(props map[string]*Schema) *Schema { return &Schema{Type: "object", Properties: props} }
	action := func(in *Schema) *Function { return &Function{Main: "x", Title: "x", Metadata: &Metadata{In: in}} }
	old := &Component{
		Credentials: &Credentials{Fields: map[string]*Field{"server": {ViewClass: "TextFieldView"}}},
		Triggers:    map[string]*Function{"poll": action(nil)},
		Actions: map[string]*Function{
			"gone": action(nil),
			"kept": action(obj(map[string]*Schema{
				"id":     str("id", false),
				"note":   str("note", false),
				"filter": obj(map[string]*Schema{"a": str("filter[a]", false), "b": str("filter[b]", false)}),
				"count":  {Type: "integer", Title: "count"},
				"body":   obj(map[string]*Schema{"data": obj(map[string]*Schema{"x": str("", false)})}),
			})),
		},
	}
	cur := &Component{
		Credentials: &Credentials{Fields: map[string]*Field{"server": {}, "token": {Required: true}, "hint": {}}},
		Actions: map[string]*Function{
			"kept": action(obj(map[string]*Schema{
				"query_id": str("id", false),
				"note":     str("note", true),
				"count":    {Type: "string", Title: "count"},
				"body":     obj(map[string]*Schema{"data": obj(map[string]*Schema{"x": str("", false), "y": str("", true), "z": str("", false)})}),
			})),
			"new": action(nil),
		},
	}
	var got []string
	for _, c := range Compare(old, cur) {
		got = append(got, c.String())
	}
	want := []string{
		`added: credential field "hint" added`,
		`breaking: required credential field "token" added`,
		`breaking: trigger "poll" removed`,
		`breaking: action "gone" removed`,
		`breaking: action "kept": input field filter removed`,
		`breaking: action "kept": input field id renamed to query_id`,
		`breaking: action "kept": required input field body.data.y added`,
		`added: action "kept": input field body.data.z added`,
		`breaking: action "kept": input field count: type integer became string`,
		`breaking: action "kept": input field note is newly required`,
		`added: action "new" added`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes:\n  %s\nwant:\n  %s", join(got), join(want))
	}
	if changes := Compare(cur, cur); len(changes) != 0 {
		t.Errorf("a descriptor against itself: %v", changes)
	}
}

func join(list []string) string {
	out := ""
	for i, s := range list {
		if i > 0 {
			out += "\n  "
		}
		out += s
	}
	return out
}
