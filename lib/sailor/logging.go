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

	"github.com/fitbitplus/connector/lib/jsonstr"
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

// recordBuffers recycles the line buffers of Handle.
var recordBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledRecord keeps the buffers of huge records out of the pool.
const maxPooledRecord = 16 << 10

func (h *bunyanHandler) Handle(_ context.Context, r slog.Record) error {
	bp := recordBuffers.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, '{')
	b = appendField(b, "name", h.name)
	b = append(b, ',')
	b = append(b, h.static...)
	b = append(b, `,"level":`...)
	b = strconv.AppendInt(b, int64(bunyanLevel(r.Level)), 10)
	b = append(b, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, h.group, a)
		return true
	})
	b = append(b, ',')
	b = appendField(b, "msg", r.Message)
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b = append(b, `,"time":"`...)
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","v":0}`+"\n"...)
	h.mu.Lock()
	_, err := h.w.Write(b)
	h.mu.Unlock()
	if cap(b) <= maxPooledRecord {
		*bp = b
		recordBuffers.Put(bp)
	}
	return err
}

func (h *bunyanHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	b := make([]byte, 0, len(h.attrs)+64*len(attrs))
	b = append(b, h.attrs...)
	for _, a := range attrs {
		if a.Key == "name" && h.group == "" && a.Value.Kind() == slog.KindString {
			n.name = a.Value.String()
			continue
		}
		b = appendAttr(b, h.group, a)
	}
	n.attrs = b
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
	b.Write(appendField(nil, key, val))
}

func appendField(b []byte, key, val string) []byte {
	b = jsonstr.Append(b, key, true)
	b = append(b, ':')
	return jsonstr.Append(b, val, true)
}

func appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			b = appendAttr(b, p, g)
		}
		return b
	}
	b = append(b, ',')
	if prefix == "" {
		b = jsonstr.Append(b, a.Key, true)
	} else {
		b = jsonstr.Append(b, prefix+a.Key, true)
	}
	b = append(b, ':')
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		return jsonstr.Append(b, v.String(), true)
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		enc, err := json.Marshal(v.Float64())
		if err != nil {
			enc = []byte(`null`)
		}
		return append(b, enc...)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return jsonstr.Append(b, v.Duration().String(), true)
	case slog.KindTime:
		return jsonstr.Append(b, v.Time().UTC().Format(time.RFC3339Nano), true)
	default:
		if err, ok := v.Any().(error); ok {
			b = append(b, `{"message":`...)
			b = jsonstr.Append(b, err.Error(), true)
			return append(b, `,"name":"Error"}`...)
		}
		enc, err := json.Marshal(v.Any())
		if err != nil {
			return jsonstr.Append(b, fmt.Sprint(v.Any()), true)
		}
		return append(b, enc...)
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
	if h.clean(rec) {
		return h.inner.Handle(ctx, rec)
	}
	out := slog.NewRecord(rec.Time, rec.Level, h.r.redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redactAttr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

// clean tells whether rec holds no secret, so that it can go to the inner
// handler as it is (the common case: no copy of the record).
func (h *redactHandler) clean(rec slog.Record) bool {
	if h.r.contains(rec.Message) {
		return false
	}
	clean := true
	rec.Attrs(func(a slog.Attr) bool {
		clean = h.cleanAttr(a)
		return clean
	})
	return clean
}

func (h *redactHandler) cleanAttr(a slog.Attr) bool {
	switch a.Value.Kind() {
	case slog.KindString:
		return !h.r.contains(a.Value.String())
	case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool, slog.KindDuration, slog.KindTime:
		return true
	}
	return false // errors, groups, values to resolve: the redacting copy
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
