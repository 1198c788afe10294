// Package sailor is the elastic.io worker runtime ("sailor"): a drop-in
// replacement for the official Node.js sailor. It consumes the step's queue,
// decrypts each message, runs the step's component.Function and publishes
// the events it emits, with the official sailor's wire format (see
// docs/sailor-protocol.md). Run is the message mode, RunService the one-shot
// service calls.
package sailor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	amqp "github.com/rabbitmq/amqp091-go"
)

var timeNow = time.Now

// Deps are what Run needs besides the settings.
type Deps struct {
	Functions    map[string]component.Function // by ELASTICIO_FUNCTION name
	API          component.APIProvider         // handed to functions as Exec.API
	Logger       *slog.Logger                  // default: NewLogger(os.Stdout, …)
	HTTPClient   *http.Client                  // for the platform API; default: 15 s timeout
	Hostname     string                        // names the AMQP connections; default os.Hostname()
	DrainTimeout time.Duration                 // graceful shutdown bound; default 30 s
}

// DefaultDrainTimeout bounds the wait for in-flight messages on shutdown.
const DefaultDrainTimeout = 30 * time.Second

// worker is the state of one sailor process.
type worker struct {
	settings         Settings
	deps             Deps
	hostname         string
	log              *slog.Logger // the sailor's; set with setLogger
	componentLog     *slog.Logger // log named "component", for functions
	redact           *redactor
	cipher           *Cipher
	platform         *platform
	api              component.APIProvider
	fn               component.Function
	state            *stepState
	pub              publisher
	tracker          *tracker
	jobs             chan job // to idle message handlers
	dataThrottle     *throttle
	errorThrottle    *throttle
	snapshotThrottle *throttle
	drainTimeout     time.Duration
	identityHeaders  amqp.Table      // see identityHeaders
	extraHeaders     amqp.Table      // see extraHeaders
	msgCtx           context.Context // messages outlive SIGTERM, up to the drain timeout
	msgCancel        context.CancelFunc
}

func newWorker(s Settings, d Deps) (*worker, error) {
	w := &worker{settings: s, deps: d, api: d.API, hostname: d.Hostname, drainTimeout: d.DrainTimeout}
	w.redact = newRedactor(s.secrets()...)
	w.identityHeaders, w.extraHeaders = identityHeaders(&s), extraHeaders(&s)
	if w.hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			h = "sailor"
		}
		w.hostname = h
	}
	base := d.Logger
	if base == nil {
		base = NewLogger(os.Stdout, s.LogOptions(w.hostname))
	}
	w.setLogger(slog.New(&redactHandler{inner: base.Handler(), r: w.redact}))
	if w.drainTimeout <= 0 {
		w.drainTimeout = DefaultDrainTimeout
	}
	hc := d.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: platformTimeout}
	}
	w.platform = &platform{base: s.APIURI, user: s.APIUsername, key: s.APIKey, hc: hc, attempts: s.APIRetryAttempts, delay: s.APIRetryDelay}
	c, err := NewCipher(s.CryptoPassword, s.CryptoIV)
	if err != nil {
		return nil, err
	}
	w.cipher = c
	w.state = newStepState(stepData{})
	w.tracker = newTracker(w.log)
	w.jobs = make(chan job)
	w.dataThrottle = newThrottle(s.DataRateLimit, s.RateInterval)
	w.errorThrottle = newThrottle(s.ErrorRateLimit, s.RateInterval)
	w.snapshotThrottle = newThrottle(s.SnapshotRateLimit, s.RateInterval)
	w.msgCtx, w.msgCancel = context.WithCancel(context.Background())
	return w, nil
}

// setLogger sets the worker's logger and the functions' logger derived from
// it (made once: a message's logger only adds the message's ids).
func (w *worker) setLogger(l *slog.Logger) {
	w.log, w.componentLog = l, l.With("name", "component")
}

func (w *worker) function() (component.Function, error) {
	fn, ok := w.deps.Functions[w.settings.Function]
	if !ok || fn == nil {
		return nil, fmt.Errorf("function %q is not part of this component", w.settings.Function)
	}
	return fn, nil
}

// Run is the worker in message mode (or hook-shutdown mode when
// s.HookShutdown). It returns nil after a graceful shutdown (ctx cancelled)
// and an error when the worker cannot start or cannot keep consuming; the
// caller exits non-zero on an error.
func Run(ctx context.Context, s Settings, d Deps) error {
	w, err := newWorker(s, d)
	if err != nil {
		return err
	}
	defer w.msgCancel()
	if s.HookShutdown {
		if err := w.runShutdownHook(ctx); err != nil {
			w.log.Log(ctx, LevelFatal, "shutdown hook failed", "err", err)
			return err
		}
		return nil
	}
	return w.run(ctx)
}

func (w *worker) run(ctx context.Context) error {
	readConn, err := w.dial(ctx, "read")
	if err != nil {
		return w.connectFailed(ctx, err)
	}
	defer readConn.Close()
	ap := &amqpPublisher{exchange: w.settings.PublishMessagesTo, log: w.log,
		dial: func() (*amqp.Connection, error) { return w.dial(w.msgCtx, "write") }}
	if _, err := ap.channel(); err != nil {
		return w.connectFailed(ctx, err)
	}
	w.pub = ap
	defer func() {
		if err := w.pub.close(); err != nil {
			w.log.Warn("close write connection", "err", err)
		}
	}()

	sess, err := w.prepare(ctx, readConn)
	if err != nil {
		if ctx.Err() != nil {
			w.log.Info("shutdown requested during startup")
			return nil
		}
		return w.initFailed(err)
	}
	if ctx.Err() != nil {
		w.log.Info("shutdown requested during startup")
		sess.close()
		return nil
	}
	w.log.Info("Fully initialized and waiting for messages")
	err = w.supervise(ctx, sess)
	if err != nil {
		w.log.Log(ctx, LevelFatal, "cannot keep consuming; exiting", "err", err)
		return err
	}
	w.log.Info("shut down gracefully")
	return nil
}

// prepare is the startup after connecting: GET the step, find the function,
// run the hooks, start consuming.
func (w *worker) prepare(ctx context.Context, readConn *amqp.Connection) (*session, error) {
	step, err := w.platform.getStep(ctx, w.settings.FlowID, w.settings.StepID)
	if err != nil {
		return nil, err
	}
	w.state = newStepState(step)
	w.redact.addConfigSecrets(step.Config)
	if w.fn, err = w.function(); err != nil {
		return nil, err
	}
	if err := w.startupHooks(ctx); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return w.consumeOn(readConn, 1)
}

func (w *worker) connectFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	w.log.Log(ctx, LevelFatal, "cannot connect to AMQP", "err", err)
	return err
}

// initFailed reports a startup failure as an error event (no errorInput,
// the step's identity headers), then returns it so the process exits 1.
func (w *worker) initFailed(err error) error {
	w.log.Log(context.Background(), LevelFatal, "initialization failed", "err", err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := errorPayload{Error: w.cipher.encryptBase64(errorJSON(err, w.redact))}
	body, mErr := json.Marshal(p)
	if mErr != nil {
		return errors.Join(err, mErr)
	}
	if pErr := w.publish(ctx, w.settings.ErrorRoutingKey, w.properties(w.initErrorHeaders(), body), w.log); pErr != nil {
		w.log.Error("report initialization error", "err", pErr)
	}
	return err
}
