package sailor

import (
	"context"
	"log/slog"
)

// messageLogger returns base with attrs added to every record it logs.
// Unlike base.With, it encodes nothing up front: a message's logger is made
// for every input but usually logs one line, so the ids are added to that
// line's record (and go through base's redaction with it) instead of being
// pre-encoded into a handler that is thrown away after one use.
func messageLogger(base *slog.Logger, attrs ...slog.Attr) *slog.Logger {
	return slog.New(&recordAttrs{next: base.Handler(), attrs: attrs})
}

// recordAttrs is the handler of messageLogger.
type recordAttrs struct {
	next  slog.Handler
	attrs []slog.Attr
}

func (h *recordAttrs) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *recordAttrs) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	return h.next.Handle(ctx, r)
}

// WithAttrs hands attrs to the next handler (where a "name" renames the
// bunyan logger, as for the component's logger) and keeps adding its own to
// every record.
func (h *recordAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &recordAttrs{next: h.next.WithAttrs(attrs), attrs: h.attrs}
}

// WithGroup puts later attributes in a group; this handler's own stay
// outside it, as with slog's own handlers.
func (h *recordAttrs) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.next.WithAttrs(h.attrs).WithGroup(name)
}
