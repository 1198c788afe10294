// Package triggers holds the hand-written polling triggers of the component.
package triggers

import "github.com/fitbitplus/connector/lib/component"

// Registry maps each trigger name of component.json to its implementation.
// It is explicit on purpose: no init() registration.
var Registry = map[string]component.Function{}
