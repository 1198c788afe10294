package manifest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Change is a difference between two descriptors, as the flows configured
// against the older one see it.
type Change struct {
	// Breaking tells whether a configured flow may stop working: an action,
	// trigger or credential field removed, an input field removed or
	// renamed, a field newly required, a field's type changed.
	Breaking bool
	What     string // e.g. `action "fetchX": input field filter.a removed`
}

func (c Change) String() string {
	if c.Breaking {
		return "breaking: " + c.What
	}
	return "added: " + c.What
}

// Compare lists the changes from old to cur: the breaking ones and the
// additions, in a stable order (by kind, then name, then field).
func Compare(old, cur *Component) []Change {
	var out []Change
	add := func(breaking bool, format string, args ...any) {
		out = append(out, Change{Breaking: breaking, What: fmt.Sprintf(format, args...)})
	}
	var oldFields, curFields map[string]*Field
	if old.Credentials != nil {
		oldFields = old.Credentials.Fields
	}
	if cur.Credentials != nil {
		curFields = cur.Credentials.Fields
	}
	for _, name := range slices.Sorted(maps.Keys(oldFields)) {
		if _, ok := curFields[name]; !ok {
			add(true, "credential field %q removed", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(curFields)) {
		_, had := oldFields[name]
		switch {
		case !had && curFields[name].Required:
			add(true, "required credential field %q added", name)
		case !had:
			add(false, "credential field %q added", name)
		}
	}
	for _, kind := range []struct {
		name     string
		old, cur map[string]*Function
	}{{"trigger", old.Triggers, cur.Triggers}, {"action", old.Actions, cur.Actions}} {
		for _, name := range slices.Sorted(maps.Keys(kind.old)) {
			if _, ok := kind.cur[name]; !ok {
				add(true, "%s %q removed", kind.name, name)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(kind.cur)) {
			f, ok := kind.old[name]
			if !ok {
				add(false, "%s %q added", kind.name, name)
				continue
			}
			for _, c := range compareInputs(inputOf(f), inputOf(kind.cur[name])) {
				c.What = fmt.Sprintf("%s %q: %s", kind.name, name, c.What)
				out = append(out, c)
			}
		}
	}
	return out
}

func inputOf(f *Function) *Schema {
	if f == nil || f.Metadata == nil {
		return nil
	}
	return f.Metadata.In
}

// compareInputs compares two metadata.in schemas field by field (dotted
// paths). A removed field whose title (a parameter's wire name) turns up at
// an added path is reported as renamed; under a removed object only the
// object is named.
func compareInputs(old, cur *Schema) []Change {
	before, after := fields(old), fields(cur)
	var out []Change
	var removed []string
	renamed := map[string]bool{} // targets of renames, not additions
	for _, path := range slices.Sorted(maps.Keys(before)) {
		if _, ok := after[path]; ok || under(path, removed) {
			continue
		}
		removed = append(removed, path)
		if to := renamedTo(before[path], before, after); to != "" && !renamed[to] {
			renamed[to] = true
			out = append(out, Change{true, fmt.Sprintf("input field %s renamed to %s", path, to)})
			continue
		}
		out = append(out, Change{true, fmt.Sprintf("input field %s removed", path)})
	}
	var added []string
	for _, path := range slices.Sorted(maps.Keys(after)) {
		s := after[path]
		o, ok := before[path]
		switch {
		case renamed[path]:
		case !ok && under(path, added):
		case !ok:
			added = append(added, path)
			if s.Required {
				out = append(out, Change{true, fmt.Sprintf("required input field %s added", path)})
			} else {
				out = append(out, Change{false, fmt.Sprintf("input field %s added", path)})
			}
		case o.Type != s.Type:
			out = append(out, Change{true, fmt.Sprintf("input field %s: type %s became %s", path, typeName(o.Type), typeName(s.Type))})
		case s.Required && !o.Required:
			out = append(out, Change{true, fmt.Sprintf("input field %s is newly required", path)})
		}
	}
	return out
}

// fields maps every property of s, at any depth, by dotted path; array
// items count as their array's path plus "[]".
func fields(s *Schema) map[string]*Schema {
	out := map[string]*Schema{}
	var walk func(prefix string, s *Schema)
	walk = func(prefix string, s *Schema) {
		if s == nil {
			return
		}
		for name, p := range s.Properties {
			path := name
			if prefix != "" {
				path = prefix + "." + name
			}
			out[path] = p
			walk(path, p)
		}
		if s.Items != nil {
			walk(prefix+"[]", s.Items)
		}
	}
	walk("", s)
	return out
}

func under(path string, parents []string) bool {
	for _, p := range parents {
		if strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[]") {
			return true
		}
	}
	return false
}

// renamedTo is the added path that holds the field s had (same title, same
// type), or "".
func renamedTo(s *Schema, before, after map[string]*Schema) string {
	if s.Title == "" {
		return ""
	}
	for _, path := range slices.Sorted(maps.Keys(after)) {
		c := after[path]
		if _, existed := before[path]; !existed && c.Title == s.Title && c.Type == s.Type {
			return path
		}
	}
	return ""
}

func typeName(t string) string {
	if t == "" {
		return "any"
	}
	return t
}
