package sailor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
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
// component logger is name "component").
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
	var static bytes.Buffer
	writeField(&static, "hostname", o.Hostname)
	static.WriteString(`,"pid":` + strconv.Itoa(o.PID))
	keys := make([]string, 0, len(o.Context))
	for k := range o.Context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		static.WriteByte(',')
		writeField(&static, k, o.Context[k])
	}
	if o.Tag != "" {
		static.WriteByte(',')
		writeField(&static, "tag", o.Tag)
	}
	return slog.New(&bunyanHandler{mu: &sync.Mutex{}, w: w, level: o.Level, name: o.Name, static: static.Bytes()})
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

type bunyanHandler struct {
	mu     *sync.Mutex
	w      io.Writer
	level  slog.Leveler
	name   string
	static []byte // hostname, pid, context, tag
	attrs  []byte // from WithAttrs, each preceded by a comma
	group  string // dotted prefix from WithGroup
}

func (h *bunyanHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *bunyanHandler) Handle(_ context.Context, r slog.Record) error {
	var b bytes.Buffer
	b.WriteByte('{')
	writeField(&b, "name", h.name)
	b.WriteByte(',')
	b.Write(h.static)
	b.WriteString(`,"level":` + strconv.Itoa(bunyanLevel(r.Level)))
	b.Write(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, h.group, a)
		return true
	})
	b.WriteByte(',')
	writeField(&b, "msg", r.Message)
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(`,"time":"` + t.UTC().Format("2006-01-02T15:04:05.000Z") + `","v":0}` + "\n")
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(b.Bytes())
	return err
}

func (h *bunyanHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	var b bytes.Buffer
	b.Write(h.attrs)
	for _, a := range attrs {
		if a.Key == "name" && h.group == "" && a.Value.Kind() == slog.KindString {
			n.name = a.Value.String()
			continue
		}
		writeAttr(&b, h.group, a)
	}
	n.attrs = b.Bytes()
	return &n
}

func (h *bunyanHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.group = h.group + name + "."
	return &n
}

func writeField(b *bytes.Buffer, key, val string) {
	writeString(b, key)
	b.WriteByte(':')
	writeString(b, val)
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

func writeAttr(b *bytes.Buffer, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			writeAttr(b, p, g)
		}
		return
	}
	b.WriteByte(',')
	writeString(b, prefix+a.Key)
	b.WriteByte(':')
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		writeString(b, v.String())
	case slog.KindInt64:
		b.WriteString(strconv.FormatInt(v.Int64(), 10))
	case slog.KindUint64:
		b.WriteString(strconv.FormatUint(v.Uint64(), 10))
	case slog.KindFloat64:
		enc, err := json.Marshal(v.Float64())
		if err != nil {
			enc = []byte(`null`)
		}
		b.Write(enc)
	case slog.KindBool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case slog.KindDuration:
		writeString(b, v.Duration().String())
	case slog.KindTime:
		writeString(b, v.Time().UTC().Format(time.RFC3339Nano))
	default:
		if err, ok := v.Any().(error); ok {
			b.WriteString(`{"message":`)
			writeString(b, err.Error())
			b.WriteString(`,"name":"Error"}`)
			return
		}
		enc, err := json.Marshal(v.Any())
		if err != nil {
			writeString(b, fmt.Sprint(v.Any()))
			return
		}
		b.Write(enc)
	}
}

// redactHandler removes known secrets from messages and string or error
// attributes before they reach the inner handler.
type redactHandler struct {
	inner slog.Handler
	r     *redactor
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redactAttr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h *redactHandler) redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.redact(v.String()))
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.Any(a.Key, redactedError{msg: h.r.redact(err.Error())})
		}
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = h.redactAttr(x)
		}
		return slog.Group(a.Key, out...)
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = h.redactAttr(a)
	}
	return &redactHandler{inner: h.inner.WithAttrs(out), r: h.r}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{inner: h.inner.WithGroup(name), r: h.r}
}

type redactedError struct{ msg string }

func (e redactedError) Error() string { return e.msg }
