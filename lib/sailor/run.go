// Package sailor is the elastic.io worker runtime ("sailor"): a drop-in
// replacement for the official Node.js sailor. It consumes the step's queue,
// decrypts each message, runs the step's component.Function and publishes
// the events it emits, with the official sailor's wire format (see
// docs/protocol.md). Run is the message mode, RunService the one-shot
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
	"github.com/fitbitplus/connector/lib/secrets"
	amqp "github.com/rabbitmq/amqp091-go"
	"golang.org/x/time/rate"
)

var timeNow = time.Now

// Deps are what Run needs besides the settings.
type Deps struct {
	Functions    map[string]component.Function // by ELASTICIO_FUNCTION name
	API          component.APIProvider         // handed to functions as Exec.API
	Logger       *slog.Logger                  // default: NewLogger(os.Stdout, …) through Secrets
	Secrets      *secrets.Redactor             // every secret the process knows; default: the settings'
	HTTPClient   *http.Client                  // for the platform API; default: 15 s timeout
	Hostname     string                        // names the AMQP connections; default os.Hostname()
	DrainTimeout time.Duration                 // graceful shutdown bound; default 30 s
	// KeepObjectReferences hands inputs to the function with their object
	// storage references unresolved (component.json's
	// autoResolveObjectReferences: false).
	KeepObjectReferences bool
}

// DefaultDrainTimeout bounds the wait for in-flight messages on shutdown.
const DefaultDrainTimeout = 30 * time.Second

// worker is the state of one sailor process.
type worker struct {
	settings        Settings
	deps            Deps
	hostname        string
	log             *slog.Logger // the sailor's
	componentLog    *slog.Logger // named "component", for functions
	secrets         *secrets.Redactor
	cipher          *Cipher
	platform        *platform
	objects         *ObjectStorage // nil without OBJECT_STORAGE_URI
	api             component.APIProvider
	fn              component.Function
	state           *stepState
	pub             publisher
	tracker         *tracker
	dataLimiter     *rate.Limiter // nil: no limit
	errorLimiter    *rate.Limiter
	snapshotLimiter *rate.Limiter
	drainTimeout    time.Duration
	identityHeaders amqp.Table      // see identityHeaders
	extraHeaders    amqp.Table      // see extraHeaders
	msgCtx          context.Context // messages outlive SIGTERM, up to the drain timeout
	msgCancel       context.CancelFunc
}

func newWorker(s Settings, d Deps) (*worker, error) {
	w := &worker{settings: s, deps: d, api: d.API, hostname: d.Hostname, drainTimeout: d.DrainTimeout, secrets: d.Secrets}
	if w.secrets == nil {
		w.secrets = secrets.New()
	}
	w.secrets.Add(s.Secrets()...)
	w.identityHeaders, w.extraHeaders = identityHeaders(&s), extraHeaders(&s)
	if w.hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			h = "sailor"
		}
		w.hostname = h
	}
	w.log = d.Logger
	if w.log == nil {
		o := s.LogOptions(w.hostname)
		o.Secrets = w.secrets
		w.log = NewLogger(os.Stdout, o)
	}
	w.setLogger(w.log)
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
	if s.ObjectStorageURI != "" {
		w.objects = NewObjectStorage(s.ObjectStorageURI, s.ObjectStorageToken, c, s.IncomingMessageSizeLimit)
	}
	w.state = newStepState(stepData{})
	w.tracker = newTracker(w.log)
	w.dataLimiter = newLimiter(s.DataRateLimit, s.RateInterval)
	w.errorLimiter = newLimiter(s.ErrorRateLimit, s.RateInterval)
	w.snapshotLimiter = newLimiter(s.SnapshotRateLimit, s.RateInterval)
	w.msgCtx, w.msgCancel = context.WithCancel(context.Background())
	return w, nil
}

// newLimiter lets limit events start per interval, in bursts of up to limit
// (the official sailor's client-side throttle); nil when there is no limit.
func newLimiter(limit int, interval time.Duration) *rate.Limiter {
	if limit <= 0 || interval <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Every(interval/time.Duration(limit)), limit)
}

// waitLimiter waits for l's permission; a nil l never waits.
func waitLimiter(ctx context.Context, l *rate.Limiter) error {
	if l == nil {
		return nil
	}
	return l.Wait(ctx)
}

// setLogger sets the worker's logger and the functions' logger made from it.
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

// run is the startup order of the protocol: connect both sides, GET the
// step, run the hooks, consume; then the link serves until shutdown.
func (w *worker) run(ctx context.Context) error {
	ap := &amqpPublisher{exchange: w.settings.PublishMessagesTo}
	w.pub = ap
	l := &link{w: w, pub: ap}
	defer l.close()
	if err := l.openRead(ctx); err != nil {
		return w.connectFailed(ctx, err)
	}
	if err := l.openWrite(ctx); err != nil {
		return w.connectFailed(ctx, err)
	}
	if err := w.prepare(ctx); err != nil {
		if ctx.Err() != nil {
			w.log.Info("shutdown requested during startup")
			return nil
		}
		return w.initFailed(err)
	}
	if ctx.Err() != nil {
		w.log.Info("shutdown requested during startup")
		return nil
	}
	if err := l.consume(1); err != nil {
		return w.initFailed(err)
	}
	w.log.Info("Fully initialized and waiting for messages")
	if err := l.serve(ctx); err != nil {
		w.log.Log(ctx, LevelFatal, "cannot keep consuming; exiting", "err", err)
		return err
	}
	w.log.Info("shut down gracefully")
	return nil
}

// prepare is the startup after connecting: GET the step, find the function,
// run the hooks.
func (w *worker) prepare(ctx context.Context) error {
	step, err := w.platform.getStep(ctx, w.settings.FlowID, w.settings.StepID)
	if err != nil {
		return err
	}
	w.state = newStepState(step)
	w.secrets.AddConfig(step.Config)
	if w.fn, err = w.function(); err != nil {
		return err
	}
	if err := w.startupHooks(ctx); err != nil {
		return err
	}
	return ctx.Err()
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
	body, mErr := json.Marshal(w.errorPayload(err, ""))
	if mErr != nil {
		return errors.Join(err, mErr)
	}
	always := func() bool { return true }
	if pErr := w.publish(ctx, w.settings.ErrorRoutingKey, w.properties(w.initErrorHeaders(), body), w.log, always); pErr != nil {
		w.log.Error("report initialization error", "err", pErr)
	}
	return err
}
