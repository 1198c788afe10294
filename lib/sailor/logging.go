package sailor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/fitbitplus/connector/lib/secrets"
)

// Bunyan levels beyond slog's four.
const (
	LevelTrace = slog.Level(-8)
	LevelFatal = slog.Level(12)
)

// LogOptions configure NewLogger.
type LogOptions struct {
	Name     string            // bunyan "name"; default "sailor"
	Level    slog.Leveler      // minimum level; default info
	Hostname string            // bunyan "hostname"
	PID      int               // bunyan "pid"; default os.Getpid()
	Context  map[string]string // fields on every record (the ELASTICIO_* context)
	Tag      string            // "tag" field (the flow id) when not empty
	Secrets  *secrets.Redactor // removes known secrets from every line
}

// LogOptions are the logger options of the settings: LOG_LEVEL, the
// ELASTICIO_* context fields and tag = flow id.
func (s Settings) LogOptions(hostname string) LogOptions {
	lvl, _ := parseLogLevel(s.LogLevel)
	return LogOptions{Name: "sailor", Level: lvl, Hostname: hostname, Context: s.LogContext, Tag: s.FlowID}
}

// NewLogger returns a logger writing bunyan-compatible JSON lines to w:
// v, level (10 trace … 60 fatal), name, hostname, pid, time, msg, the context
// fields, tag, and the record's attributes. An error attribute is written as
// {message, name}. A "name" attribute given to With renames the logger (the
// component logger is name "component"). Each line goes through o.Secrets.
func NewLogger(w io.Writer, o LogOptions) *slog.Logger {
	if o.Name == "" {
		o.Name = "sailor"
	}
	if o.Level == nil {
		o.Level = slog.LevelInfo
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	if o.Secrets != nil {
		w = o.Secrets.Writer(w)
	}
	attrs := []slog.Attr{slog.Int("v", 0), slog.String("hostname", o.Hostname), slog.Int("pid", o.PID)}
	for _, k := range slices.Sorted(maps.Keys(o.Context)) {
		attrs = append(attrs, slog.String(k, o.Context[k]))
	}
	if o.Tag != "" {
		attrs = append(attrs, slog.String("tag", o.Tag))
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: o.Level, ReplaceAttr: bunyanAttr})
	return slog.New(&namedHandler{inner: h.WithAttrs(attrs), name: o.Name})
}

// bunyanAttr writes slog's level and time as bunyan does, and errors as
// bunyan's err serializer does.
func bunyanAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 {
		switch a.Key {
		case slog.LevelKey:
			if l, ok := a.Value.Any().(slog.Level); ok {
				return slog.Int(slog.LevelKey, bunyanLevel(l))
			}
		case slog.TimeKey:
			if a.Value.Kind() == slog.KindTime {
				return slog.String(slog.TimeKey, a.Value.Time().UTC().Format("2006-01-02T15:04:05.000Z"))
			}
		}
	}
	if err, ok := a.Value.Any().(error); ok {
		return slog.Group(a.Key, slog.String("message", err.Error()), slog.String("name", "Error"))
	}
	return a
}

// parseLogLevel reads LOG_LEVEL: trace, debug, info, warn, error, fatal or a
// bunyan number.
func parseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace", "10":
		return LevelTrace, nil
	case "debug", "20":
		return slog.LevelDebug, nil
	case "", "info", "30":
		return slog.LevelInfo, nil
	case "warn", "warning", "40":
		return slog.LevelWarn, nil
	case "error", "50":
		return slog.LevelError, nil
	case "fatal", "60":
		return LevelFatal, nil
	}
	return slog.LevelInfo, fmt.Errorf("LOG_LEVEL %q is not one of trace, debug, info, warn, error, fatal", s)
}

func bunyanLevel(l slog.Level) int {
	switch {
	case l < slog.LevelDebug:
		return 10
	case l < slog.LevelInfo:
		return 20
	case l < slog.LevelWarn:
		return 30
	case l < slog.LevelError:
		return 40
	case l < LevelFatal:
		return 50
	default:
		return 60
	}
}

// namedHandler adds bunyan's "name" to every record. A "name" attribute
// given to With renames the logger instead of adding a second name.
type namedHandler struct {
	inner slog.Handler
	name  string
}

func (h *namedHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *namedHandler) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(slog.String("name", h.name))
	return h.inner.Handle(ctx, r)
}

func (h *namedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &namedHandler{name: h.name}
	rest := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if a.Key == "name" && a.Value.Kind() == slog.KindString {
			n.name = a.Value.String()
			continue
		}
		rest = append(rest, a)
	}
	n.inner = h.inner.WithAttrs(rest)
	return n
}

// WithGroup fixes the name outside the group: later attributes go in it.
func (h *namedHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.inner.WithAttrs([]slog.Attr{slog.String("name", h.name)}).WithGroup(name)
}
