package rest

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/fitbitplus/connector/lib/component"
)

func ptr(f float64) *float64 { return &f }

var (
	fetchPatient = &Operation{ID: "fetchPatient", Method: "GET", Path: "/patient/{id}", Secured: true, SuccessCode: 200,
		Produces: "application/vnd.api+json",
		Params:   []Param{{Name: "id", Field: "id", In: "path", Required: true, Type: "string"}}}

	fetchPatients = &Operation{ID: "fetchPatients", Method: "GET", Path: "/patient", Secured: true, SuccessCode: 200,
		Paging: []string{"cursor", "skip"},
		Params: []Param{
			{Name: "filter[groups]", Field: "filter.groups", In: "query", Type: "string"},
			{Name: "filter[organization]", Field: "filter.organization", In: "query", Type: "string"},
			{Name: "filter[identifier][system]", Field: "filter.identifier.system", In: "query", Type: "string"},
			{Name: "filter[identifier][value]", Field: "filter.identifier.value", In: "query", Type: "string"},
			{Name: "filter[archived]", Field: "filter.archived", In: "query", Type: "boolean"},
			{Name: "page[number]", Field: "page.number", In: "query", Type: "integer", Minimum: ptr(1)},
			{Name: "page[size]", Field: "page.size", In: "query", Type: "integer", Minimum: ptr(0), Maximum: ptr(50)},
			{Name: "page[limit]", Field: "page.limit", In: "query", Type: "integer", Minimum: ptr(0)},
			{Name: "page[cursor]", Field: "page.cursor", In: "query", Type: "string"},
			{Name: "include", Field: "include", In: "query", Type: "array", Items: "string", Format: "csv",
				Enum: []string{"coaches", "groups"}},
			{Name: "weight", Field: "weight", In: "query", Type: "number", Maximum: ptr(500)},
			{Name: "tag", Field: "tag", In: "query", Type: "array", Items: "string"},
			{Name: "X-Trace", Field: "trace", In: "header", Type: "string"},
		}}

	fetchCalendarEvents = &Operation{ID: "fetchCalendarEvents", Method: "GET", Path: "/calendar_event", Secured: true,
		Params: []Param{{Name: "filter[type]", Field: "filter.type", In: "query", Type: "string",
			Enum: []string{"plan-check-in", "reminder", "telephone-call", "office-visit", "video-call"}}}}

	createPatient = &Operation{ID: "createPatient", Method: "POST", Path: "/patient", Secured: true, SuccessCode: 201,
		Body: &Body{Field: "requestBody", Required: true, MediaTypes: []string{"application/vnd.api+json"}}}

	updatePatient = &Operation{ID: "updatePatient", Method: "PATCH", Path: "/patient/{id}", Secured: true,
		Params: []Param{{Name: "id", Field: "id", In: "path", Required: true, Type: "string"}},
		Body:   &Body{Field: "requestBody", Required: true, MediaTypes: []string{"application/x-test+json", "application/vnd.api+json"}}}

	deleteCalendarEvent = &Operation{ID: "deleteCalendarEvent", Method: "DELETE", Path: "/calendar_event/{id}", Secured: true,
		Params: []Param{{Name: "id", Field: "id", In: "path", Required: true, Type: "string"}}}

	createToken = &Operation{ID: "createToken", Method: "POST", Path: "/oauth/token", Secured: false, SuccessCode: 201,
		Params: []Param{{Name: "include", Field: "include", In: "query", Type: "string", Enum: []string{"groups", "organization"}}},
		Body:   &Body{Field: "requestBody", Required: true, MediaTypes: []string{"application/vnd.api+json", "application/json"}}}
)

// recorder is a fake Emitter that keeps the data messages.
type recorder struct {
	mu   sync.Mutex
	data []*component.Message
}

func (r *recorder) Data(_ context.Context, m *component.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.data = append(r.data, m)
	return nil
}
func (r *recorder) Error(context.Context, error) error                    { return nil }
func (r *recorder) Rebound(context.Context, error) error                  { return nil }
func (r *recorder) Snapshot(context.Context, json.RawMessage) error       { return nil }
func (r *recorder) UpdateSnapshot(context.Context, json.RawMessage) error { return nil }
func (r *recorder) UpdateKeys(context.Context, json.RawMessage) error     { return nil }
func (r *recorder) HTTPReply(context.Context, component.HTTPReply) error  { return nil }

// input decodes a JSON object the way Message.BodyObject does.
func input(s string) map[string]any {
	m, err := (&component.Message{Body: json.RawMessage(s)}).BodyObject()
	if err != nil {
		panic(err)
	}
	return m
}
