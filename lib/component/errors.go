package component

import "errors"

// ErrorPayload is the JSON object an error event carries: {name, message} plus
// the fields of a DescribedError. Both runtimes (worker and local runner) use
// it, so an error looks the same wherever a flow runs.
func ErrorPayload(err error) map[string]any {
	out := map[string]any{"name": "Error", "message": "Not Available"}
	if err == nil {
		return out
	}
	if msg := err.Error(); msg != "" {
		out["message"] = msg
	}
	var d DescribedError
	if errors.As(err, &d) {
		for k, v := range d.ErrorFields() {
			if k != "name" && k != "message" && k != "stack" && v != nil {
				out[k] = v
			}
		}
		if n := d.ErrorName(); n != "" {
			out["name"] = n
		}
	}
	return out
}
