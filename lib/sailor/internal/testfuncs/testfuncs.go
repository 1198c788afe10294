// Package testfuncs is the in-test component of lib/sailor's integration
// tests (the Go port of the official sailor's mocha_spec/integration_component),
// shared by the in-process tests and the testworker binary.
package testfuncs

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/fitbitplus/connector/lib/component"
)

// SlowDelay is how long slow_echo works on a message.
const SlowDelay = 1500 * time.Millisecond

// Functions returns the test component's functions by name.
func Functions() map[string]component.Function {
	return map[string]component.Function{
		"echo":          component.FunctionFunc(echo),
		"slow_echo":     component.FunctionFunc(slowEcho),
		"sleep_echo":    component.FunctionFunc(sleepEcho),
		"emit_data":     component.FunctionFunc(emitData),
		"fail":          component.FunctionFunc(fail),
		"rebound":       component.FunctionFunc(rebound),
		"panic":         component.FunctionFunc(panics),
		"http_reply":    component.FunctionFunc(httpReply),
		"fails_to_init": failsToInit{},
		"with_hooks":    withHooks{},
	}
}

// echo emits {id, headers:{x-custom-component-header}, body:{msg, cfg, snapshot}}.
func echo(ctx context.Context, ex *component.Exec) error {
	body, err := json.Marshal(map[string]any{"msg": ex.Msg, "cfg": ex.Cfg, "snapshot": ex.Snapshot})
	if err != nil {
		return err
	}
	return ex.Emit.Data(ctx, &component.Message{
		ID: "f45be600-f770-11e6-b42d-b187bfbf19fd", Headers: map[string]any{"x-custom-component-header": "123_abc"}, Body: body,
	})
}

func slowEcho(ctx context.Context, ex *component.Exec) error {
	time.Sleep(SlowDelay)
	return echo(ctx, ex)
}

// sleepEcho works for body.sleepMs milliseconds (SlowDelay when absent), then echoes.
func sleepEcho(ctx context.Context, ex *component.Exec) error {
	var in struct {
		SleepMs int `json:"sleepMs"`
	}
	_ = json.Unmarshal(ex.Msg.Body, &in)
	d := SlowDelay
	if in.SleepMs > 0 {
		d = time.Duration(in.SleepMs) * time.Millisecond
	}
	time.Sleep(d)
	return echo(ctx, ex)
}

func emitData(ctx context.Context, ex *component.Exec) error {
	return ex.Emit.Data(ctx, &component.Message{
		ID: "f45be600-f770-11e6-b42d-b187bfbf19fd", Headers: map[string]any{"x-custom-component-header": "123_abc"},
		Body: json.RawMessage(`{"id":"someId","hai":"there"}`),
	})
}

func fail(context.Context, *component.Exec) error { return errors.New("OMG. I failed") }

func rebound(context.Context, *component.Exec) error {
	return component.Rebound(errors.New("the API is busy"))
}

func panics(context.Context, *component.Exec) error { panic("test panic") }

func httpReply(ctx context.Context, ex *component.Exec) error {
	return ex.Emit.HTTPReply(ctx, component.HTTPReply{StatusCode: 200, Body: "Ok", Headers: map[string]string{"content-type": "text/plain"}})
}

// failsToInit has an init hook that fails.
type failsToInit struct{}

func (failsToInit) Process(ctx context.Context, ex *component.Exec) error { return echo(ctx, ex) }
func (failsToInit) Init(context.Context, component.Config) error {
	return errors.New("OMG. I cannot init")
}

// withHooks has a startup hook returning {"subscriptionResult":{"status":"ok"}}.
type withHooks struct{}

func (withHooks) Process(ctx context.Context, ex *component.Exec) error { return echo(ctx, ex) }
func (withHooks) Startup(context.Context, component.Config) (json.RawMessage, error) {
	return json.RawMessage(`{"subscriptionResult":{"status":"ok"}}`), nil
}
func (withHooks) Init(context.Context, component.Config) error { return nil }
