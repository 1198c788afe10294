package main

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"

	connector "github.com/fitbitplus/connector"
	"github.com/fitbitplus/connector/actions"
	"github.com/fitbitplus/connector/lib/manifest"
	"github.com/fitbitplus/connector/triggers"
)

// Every function component.json declares must be runnable, and nothing runs
// that the platform cannot see.
func TestFunctionsMatchComponentJSON(t *testing.T) {
	c, err := manifest.Parse(connector.ComponentJSON)
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for name := range c.Actions {
		declared = append(declared, name)
	}
	for name := range c.Triggers {
		declared = append(declared, name)
	}
	var implemented []string
	for name := range functions() {
		implemented = append(implemented, name)
	}
	sort.Strings(declared)
	sort.Strings(implemented)
	if len(declared) != len(implemented) {
		t.Fatalf("component.json declares %d functions, the binary implements %d:\n%v\n%v", len(declared), len(implemented), declared, implemented)
	}
	for i := range declared {
		if declared[i] != implemented[i] {
			t.Fatalf("component.json declares %q where the binary implements %q", declared[i], implemented[i])
		}
	}
	if n := len(actions.Registry) + len(triggers.Registry) + 4; n != len(implemented) {
		t.Fatalf("a function name is defined twice: %d registered, %d distinct", n, len(implemented))
	}
}

func TestPanicInACommandIsAnErrorNotACrash(t *testing.T) {
	var stderr strings.Builder
	c := &cli{Getenv: func(string) string { return "" }, Stdout: io.Discard, Stderr: &stderr}
	boom := command{name: "boom", run: func(context.Context, *cli, []string) error { panic("kaputt") }}
	err := runCommand(context.Background(), boom, c, nil)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(stderr.String(), "internal error: kaputt") {
		t.Fatalf("err %v, stderr %q", err, stderr.String())
	}
}

func TestAutoResolvesObjects(t *testing.T) {
	desc := []byte(`{"actions":{"keeps":{"autoResolveObjectReferences":false},"plain":{}},"triggers":{"t":{"autoResolveObjectReferences":true}}}`)
	for fn, want := range map[string]bool{"keeps": false, "plain": true, "t": true, "unknown": true} {
		if got := autoResolvesObjects(desc, fn); got != want {
			t.Errorf("%s: %v, want %v", fn, got, want)
		}
	}
}
