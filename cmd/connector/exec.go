package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/fitbitplus/connector/actions"
	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fitbitplus"
	"github.com/fitbitplus/connector/lib/localrun"
	"github.com/fitbitplus/connector/lib/rest"
	"github.com/fitbitplus/connector/lib/sailor"
	"github.com/fitbitplus/connector/lib/sandbox"
)

const execUsage = `usage: connector exec FUNCTION [--config FILE|JSON] [--snapshot FILE|JSON] [--sandbox]

Runs input messages (JSON values on stdin, one message each; none: one empty
message) through FUNCTION with the worker's dispatch, authentication and event
handling, and prints every emitted event as one JSON line
{"event": NAME, "payload": WHAT_WAS_EMITTED}. Exits 1 when an error event was
emitted. With --sandbox the Fitbit Plus API simulator runs in process, the
credential points at it, and organisation and group fields left empty are
filled from its seeded organisation.`

func cmdExec(ctx context.Context, c *cli, args []string) error {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.Usage = func() { fmt.Fprintln(c.Stderr, execUsage); fs.PrintDefaults() }
	configArg := fs.String("config", "", "step configuration (credential and step fields): a JSON object or a file holding one")
	snapshotArg := fs.String("snapshot", "", "the step's snapshot before the first message: a JSON object or a file holding one")
	useSandbox := fs.Bool("sandbox", false, "run against the in-process sandbox")
	objects := fs.String("object-storage", "", "object storage URI: resolve inputs that refer to it (lightweight messages), "+
		"with ELASTICIO_OBJECT_STORAGE_TOKEN and ELASTICIO_MESSAGE_CRYPTO_PASSWORD / _IV")
	name, rest := splitName(args)
	if err := fs.Parse(rest); err != nil {
		return flagError(err)
	}
	if name == "" && fs.NArg() > 0 {
		name, rest = fs.Arg(0), fs.Args()[1:]
		if err := fs.Parse(rest); err != nil {
			return flagError(err)
		}
	}
	if name == "" || fs.NArg() > 0 {
		fs.Usage()
		return &exitError{code: 2}
	}
	fns := functions()
	if _, ok := fns[name]; !ok {
		return &exitError{code: 2, err: fmt.Errorf("no action or trigger named %q (see component.json)", name)}
	}
	cfg := component.Config{}
	if err := readJSONArg(*configArg, &cfg); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--config: %w", err)}
	}
	c.Secrets.AddConfig(map[string]any(cfg))
	var snapshot json.RawMessage
	if err := readJSONArg(*snapshotArg, &snapshot); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--snapshot: %w", err)}
	}
	inputs, err := readStdinMessages(c.Stdin)
	if err != nil {
		return &exitError{code: 2, err: err}
	}

	if *objects != "" {
		if err := resolveInputs(ctx, c, *objects, inputs); err != nil {
			return err
		}
	}
	if *useSandbox {
		sb, err := startSandbox()
		if err != nil {
			return err
		}
		defer sb.Close()
		pointAtSandbox(cfg, sb)
		if op, ok := actions.Registry[name]; ok {
			for _, msg := range inputs {
				if err := fillFromSeed(op, msg, sb.Seeded()); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
		}
	}

	api, err := newAPIProvider(c)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	var writeErr error
	runner := &localrun.Runner{
		Functions: fns,
		API:       api,
		Log:       stderrLogger(c),
		OnEvent:   localrun.JSONLines(c.Stdout, &writeErr),
	}
	res, err := runner.Run(ctx, name, cfg, snapshot, inputs)
	if err != nil {
		return err
	}
	if writeErr != nil {
		return fmt.Errorf("write events: %w", writeErr)
	}
	if res.Errors() > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// flagError maps a flag parsing error to the exit status: 0 for -help (the
// usage is printed), 2 otherwise.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return &exitError{code: 2}
}

// splitName takes FUNCTION off the front of args when it comes first.
func splitName(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// readJSONArg decodes arg, which is JSON itself when it starts with { and a
// file name otherwise. An empty arg leaves v alone.
func readJSONArg(arg string, v any) error {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		return nil
	}
	data := []byte(arg)
	if !strings.HasPrefix(arg, "{") {
		b, err := os.ReadFile(arg)
		if err != nil {
			return err
		}
		data = b
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	return nil
}

// readStdinMessages reads the input messages; a terminal gives none, and no
// message at all means one empty message, so that triggers and parameterless
// actions run as they are.
func readStdinMessages(in io.Reader) ([]*component.Message, error) {
	var msgs []*component.Message
	if f, ok := in.(*os.File); !ok || !isTerminal(f) {
		var err error
		if msgs, err = localrun.ReadInputs(in); err != nil {
			return nil, err
		}
	}
	if len(msgs) == 0 {
		msgs = []*component.Message{{Headers: map[string]any{}, Body: json.RawMessage("{}")}}
	}
	return msgs, nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func startSandbox() (*sandbox.Sandbox, error) {
	sb, err := sandbox.New(sandbox.Options{Seed: 1})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return sb, nil
}

// pointAtSandbox makes cfg's credential use the sandbox and fills the step
// fields a trigger needs (organisation) when the user left them empty.
func pointAtSandbox(cfg component.Config, sb *sandbox.Sandbox) {
	seed := sb.Seeded()
	cfg[fitbitplus.FieldServer] = fitbitplus.CustomServer
	cfg[fitbitplus.FieldOtherServer] = sb.BaseURL()
	if cfg.String(fitbitplus.FieldClientID) == "" {
		cfg[fitbitplus.FieldClientID] = seed.ClientID
		cfg[fitbitplus.FieldClientSecret] = seed.ClientSecret
	}
	if cfg.String("organization") == "" && cfg.String("groups") == "" {
		cfg["organization"] = seed.OrganizationID
	}
}

// The "at least one of" filter rules of the API's lists: when the input
// gives none of a rule's filters, the first one the operation has is filled.
var atLeastOneOf = [][]string{
	{"filter[organization]", "filter[groups]", "filter[patient]", "filter[attendees]"},
	{"filter[receiver]", "filter[sender]"},
}

// fillFromSeed fills the filters of a generated action from the sandbox's
// seeded organisation when the input leaves them empty: required ones
// always, and one of each "at least one of" rule the input leaves empty.
func fillFromSeed(fn component.Function, msg *component.Message, seed sandbox.Seeded) error {
	op, ok := fn.(*rest.Operation)
	if !ok {
		return nil
	}
	body, err := msg.BodyObject()
	if err != nil {
		return err
	}
	seedValue := map[string]string{
		"filter[organization]": seed.OrganizationID,
		"filter[groups]":       strings.Join(seed.GroupIDs, ","),
		"filter[patient]":      seed.PatientID,
		"filter[receiver]":     seed.PatientID,
	}
	params := map[string]rest.Param{}
	has := map[string]bool{}
	for _, p := range op.Params {
		if p.In == "query" {
			params[p.Name] = p
			has[p.Name] = fieldSet(body, p.Field)
		}
	}
	fill := map[string]bool{}
	for _, p := range params {
		fill[p.Name] = p.Required && !has[p.Name]
	}
	for _, rule := range atLeastOneOf {
		given, first := false, ""
		for _, name := range rule {
			if _, ok := params[name]; ok {
				given = given || has[name]
				if first == "" {
					first = name
				}
			}
		}
		if !given && first != "" {
			fill[first] = true
		}
	}
	changed := false
	for name, want := range fill {
		if v, known := seedValue[name]; want && known {
			setField(body, params[name].Field, v)
			changed = true
		}
	}
	if changed {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		msg.Body = b
	}
	return nil
}

// fieldSet tells whether the dotted field holds a non-empty value.
func fieldSet(obj map[string]any, field string) bool {
	parts := strings.Split(field, ".")
	for i, p := range parts {
		v, ok := obj[p]
		if !ok || v == nil || v == "" {
			return false
		}
		if i == len(parts)-1 {
			return true
		}
		if obj, ok = v.(map[string]any); !ok {
			return false
		}
	}
	return false
}

// setField sets the dotted field, creating the objects on its way.
func setField(obj map[string]any, field, value string) {
	parts := strings.Split(field, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := obj[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[p] = next
		}
		obj = next
	}
	obj[parts[len(parts)-1]] = value
}

// stderrLogger logs warnings and worse to stderr (LOG_LEVEL overrides), so
// that stdout holds only events.
func stderrLogger(c *cli) *slog.Logger {
	level := slog.LevelWarn
	_ = level.UnmarshalText([]byte(c.Getenv("LOG_LEVEL")))
	return slog.New(slog.NewJSONHandler(c.Stderr, &slog.HandlerOptions{Level: level}))
}

// resolveInputs puts in place the bodies that inputs keep in object storage,
// as the worker does.
func resolveInputs(ctx context.Context, c *cli, uri string, inputs []*component.Message) error {
	cipher, err := sailor.NewCipher(c.Getenv("ELASTICIO_MESSAGE_CRYPTO_PASSWORD"), c.Getenv("ELASTICIO_MESSAGE_CRYPTO_IV"))
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--object-storage: %w", err)}
	}
	store := sailor.NewObjectStorage(uri, c.Getenv("ELASTICIO_OBJECT_STORAGE_TOKEN"), cipher, sailor.DefaultIncomingMessageSizeLimit)
	for _, msg := range inputs {
		if err := store.Resolve(ctx, msg); err != nil {
			return &exitError{code: 1, err: err}
		}
	}
	return nil
}
