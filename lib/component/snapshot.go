package component

import (
	"encoding/json"
	"errors"
)

// SnapshotDelta decodes the payload of an updateSnapshot event: a JSON object,
// without the "$set" key that the official sailor refuses too.
func SnapshotDelta(delta json.RawMessage) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(delta, &obj); err != nil || obj == nil {
		return nil, errors.New("updateSnapshot: the delta must be a JSON object")
	}
	if _, ok := obj["$set"]; ok {
		return nil, errors.New("updateSnapshot: $set is not supported")
	}
	return obj, nil
}

// MergeSnapshot shallow-merges delta into snapshot, as updateSnapshot does; a
// snapshot that is not a JSON object counts as {}.
func MergeSnapshot(snapshot json.RawMessage, delta map[string]json.RawMessage) (json.RawMessage, error) {
	cur := map[string]json.RawMessage{}
	if err := json.Unmarshal(snapshot, &cur); err != nil || cur == nil {
		cur = map[string]json.RawMessage{}
	}
	for k, v := range delta {
		cur[k] = v
	}
	return json.Marshal(cur)
}
