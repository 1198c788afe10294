package manifest

// MinimalInput is the smallest message body that the metadata.in schema in
// asks for: each field marked required, at any depth, with a sample value
// of its type (the first enum value; a date-time or date for those
// formats; the minimum of a bounded number; one item for an array).
// Optional fields are left out.
func MinimalInput(in *Schema) map[string]any {
	out, _ := sampleValue(in, 0).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

// maxSampleDepth bounds the recursion (metadata is finite, but cheap to guard).
const maxSampleDepth = 32

func sampleValue(s *Schema, depth int) any {
	if s == nil || depth > maxSampleDepth {
		return map[string]any{}
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	switch s.Type {
	case "string", "":
		switch s.Format {
		case "date-time":
			return "2024-03-01T08:00:00Z"
		case "date":
			return "2024-03-01"
		}
		if s.Type == "" && len(s.Properties) > 0 {
			break
		}
		return "x"
	case "integer", "number":
		n := 1.0
		if s.Minimum != nil && *s.Minimum > n {
			n = *s.Minimum
		}
		if s.Maximum != nil && *s.Maximum < n {
			n = *s.Maximum
		}
		return n
	case "boolean":
		return true
	case "array":
		return []any{sampleValue(s.Items, depth+1)}
	}
	obj := map[string]any{}
	for name, p := range s.Properties {
		if p.Required {
			obj[name] = sampleValue(p, depth+1)
		}
	}
	return obj
}
