package sailor

import (
	"encoding/base64"
	"encoding/json"
	"sync"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/secrets"
	"github.com/google/uuid"
)

// stepState is the step's in-memory state, shared by all messages: the
// config (refreshed by updateKeys), the snapshot (replaced by snapshot,
// merged by updateSnapshot), the passthrough flag and the flow variables.
type stepState struct {
	mu            sync.RWMutex
	cfg           map[string]any
	snapshot      json.RawMessage
	isPassthrough bool
	variables     json.RawMessage
}

func newStepState(step stepData) *stepState {
	st := &stepState{cfg: step.Config, snapshot: step.Snapshot, isPassthrough: step.IsPassthrough, variables: step.Variables}
	if st.cfg == nil {
		st.cfg = map[string]any{}
	}
	if len(st.snapshot) == 0 || string(st.snapshot) == "null" {
		st.snapshot = json.RawMessage("{}")
	}
	return st
}

// forMessage returns a deep copy of the config and the current snapshot.
func (s *stepState) forMessage() (component.Config, json.RawMessage) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cfg, _ := deepCopy(s.cfg).(map[string]any)
	return component.Config(cfg), s.snapshot
}

func (s *stepState) config() component.Config {
	cfg, _ := s.forMessage()
	return cfg
}

func (s *stepState) passthrough() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.isPassthrough
}

func (s *stepState) setSnapshot(snap json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshot = append(json.RawMessage(nil), snap...)
}

func (s *stepState) mergeSnapshot(delta map[string]json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, err := component.MergeSnapshot(s.snapshot, delta); err == nil {
		s.snapshot = b
	}
}

// mergeConfig shallow-merges updated credential keys into the config.
func (s *stepState) mergeConfig(keys json.RawMessage, r *secrets.Redactor) {
	var obj map[string]any
	if err := json.Unmarshal(keys, &obj); err != nil || obj == nil {
		return
	}
	r.AddConfig(obj)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range obj {
		s.cfg[k] = v
	}
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[k] = deepCopy(val)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = deepCopy(val)
		}
		return out
	default:
		return v
	}
}

func newMessageID() string { return uuid.NewString() }

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
