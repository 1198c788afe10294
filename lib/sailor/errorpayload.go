package sailor

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fitbitplus/connector/lib/component"
)

// errReported marks an error that the emitter has already published as an
// error event, so that returning it from a function does not publish it twice.
var errReported = errors.New("already reported as an error event")

type reportedError struct{ err error }

func (e *reportedError) Error() string        { return e.err.Error() }
func (e *reportedError) Unwrap() error        { return e.err }
func (e *reportedError) Is(target error) bool { return target == errReported }
func reported(err error) error                { return &reportedError{err: err} }
func isReported(err error) bool               { return errors.Is(err, errReported) }

// panicError is a function that panicked.
type panicError struct {
	value any
	stack string
}

func (e *panicError) Error() string               { return fmt.Sprintf("function panicked: %v", e.value) }
func (e *panicError) ErrorName() string           { return "PanicError" }
func (e *panicError) ErrorFields() map[string]any { return nil }

// errorJSON is the JSON of an error event: {name, message, stack, ...fields}.
// Go errors carry no stack, so stack is "Not Available", as the official
// sailor writes for values without one.
func errorJSON(err error) []byte {
	obj := map[string]any{}
	name := "Error"
	var de component.DescribedError
	if errors.As(err, &de) {
		for k, v := range de.ErrorFields() {
			obj[k] = v
		}
		if n := de.ErrorName(); n != "" {
			name = n
		}
	}
	msg := "Not Available"
	if err != nil && err.Error() != "" {
		msg = err.Error()
	}
	obj["name"] = name
	obj["message"] = msg
	obj["stack"] = "Not Available"
	b, mErr := json.Marshal(obj)
	if mErr != nil { // a field that cannot be encoded: drop the fields
		b, _ = json.Marshal(map[string]string{"name": name, "message": msg, "stack": "Not Available"})
	}
	return b
}

// errorPayload is the body of an error event: base64 AES strings of the error
// JSON (known secrets removed, from every field) and, when there is an input,
// of the input envelope.
type errorPayload struct {
	Error      string `json:"error"`
	ErrorInput string `json:"errorInput,omitempty"`
}

func (w *worker) errorPayload(err error, input string) errorPayload {
	return errorPayload{Error: string(w.seal(errorJSON(err), 1)), ErrorInput: input}
}
