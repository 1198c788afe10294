package sailor

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/fitbitplus/connector/lib/component"
)

// Starter is a function with a startup hook (run once per flow start when
// ELASTICIO_STARTUP_REQUIRED is set). Its result is stored on the platform as
// the hooks data and handed to Shutdowner.Shutdown when the flow stops.
type Starter interface {
	Startup(ctx context.Context, cfg component.Config) (json.RawMessage, error)
}

// Initer is a function with an init hook, run once per container before
// consuming.
type Initer interface {
	Init(ctx context.Context, cfg component.Config) error
}

// Shutdowner is a function with a shutdown hook, run in ELASTICIO_HOOK_SHUTDOWN
// mode with the state Startup returned.
type Shutdowner interface {
	Shutdown(ctx context.Context, cfg component.Config, state json.RawMessage) error
}

// startupHooks runs the startup hook (when required) and stores its state,
// then the init hook (docs/protocol.md).
func (w *worker) startupHooks(ctx context.Context) error {
	cfg := w.state.config()
	if w.settings.StartupRequired {
		state := json.RawMessage("{}")
		if st, ok := w.fn.(Starter); ok {
			w.log.Info("running startup hook")
			out, err := st.Startup(ctx, cfg)
			if err != nil {
				return err // reported as is, as the official sailor does
			}
			if len(out) > 0 && string(out) != "null" {
				state = out
			}
		}
		if err := w.platform.saveHooksData(ctx, w.settings.FlowID, state); err != nil {
			return err
		}
	}
	in, ok := w.fn.(Initer)
	if !ok {
		w.log.Debug("the function has no init hook")
		return nil
	}
	w.log.Info("running init hook")
	return in.Init(ctx, w.state.config()) // an error is reported as is, as the official sailor does
}

// runShutdownHook is ELASTICIO_HOOK_SHUTDOWN mode: GET the step and the
// hooks data, run the shutdown hook, DELETE the hooks data. No AMQP.
func (w *worker) runShutdownHook(ctx context.Context) error {
	step, err := w.platform.getStep(ctx, w.settings.FlowID, w.settings.StepID)
	if err != nil {
		return err
	}
	w.state = newStepState(step)
	w.secrets.AddConfig(step.Config)
	fn, err := w.function()
	if err != nil {
		return err
	}
	state, err := w.platform.getHooksData(ctx, w.settings.FlowID)
	if err != nil {
		return err
	}
	if sd, ok := fn.(Shutdowner); ok {
		w.log.Info("running shutdown hook")
		if err := sd.Shutdown(ctx, w.state.config(), state); err != nil {
			return fmt.Errorf("shutdown hook: %w", err)
		}
	} else {
		w.log.Info("the function has no shutdown hook")
	}
	if err := w.platform.deleteHooksData(ctx, w.settings.FlowID); err != nil {
		return err
	}
	w.log.Info("shutdown hook finished")
	return nil
}
