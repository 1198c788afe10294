package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &cli{Getenv: func(string) string { return "" }, Stdout: &stdout, Stderr: &stderr})
	return code, stdout.String() + stderr.String()
}

func TestGenerateCheck(t *testing.T) {
	out := t.TempDir()
	spec := filepath.Join("..", "..", "lib", "gen", "testdata", "swagger2", "swagger.json")
	gen := []string{"generate", "--spec", spec, "--out", out}
	check := append(gen[:len(gen):len(gen)], "--check")

	if code, msg := runCLI(t, check...); code != 1 || !strings.Contains(msg, "component.json (missing)") {
		t.Fatalf("check before generating: exit %d, %q; want 1 naming the missing component.json", code, msg)
	}
	if code, msg := runCLI(t, gen...); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, msg)
	}
	handWritten := filepath.Join(out, "actions", "helper.go")
	writeFile(t, handWritten, "package actions\n")
	if code, msg := runCLI(t, check...); code != 0 {
		t.Fatalf("check after generating: exit %d: %s", code, msg)
	}

	edited := filepath.Join(out, "actions", "fetch_patients.gen.go")
	src, err := os.ReadFile(edited)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, edited, strings.Replace(string(src), `"GET"`, `"POST"`, 1))
	if code, msg := runCLI(t, check...); code != 1 || !strings.Contains(msg, "actions/fetch_patients.gen.go (stale)") {
		t.Fatalf("check after a hand edit: exit %d, %q; want 1 naming the file", code, msg)
	}

	writeFile(t, filepath.Join(out, "actions", "x.gen.go"), "package actions\n")
	code, msg := runCLI(t, check...)
	if code != 1 || !strings.Contains(msg, "actions/x.gen.go (extra)") || !strings.Contains(msg, "fetch_patients.gen.go (stale)") {
		t.Fatalf("check with an extra file: exit %d, %q; want 1 naming both files", code, msg)
	}

	if code, msg := runCLI(t, gen...); code != 0 || !strings.Contains(msg, "removed") {
		t.Fatalf("regenerate: exit %d: %s", code, msg)
	}
	if code, msg := runCLI(t, check...); code != 0 {
		t.Fatalf("check after regenerating: exit %d: %s", code, msg)
	}
	if _, err := os.Stat(handWritten); err != nil {
		t.Errorf("a hand-written file in actions/ did not survive: %v", err)
	}
}

// TestGeneratedFilesAreFresh is the CI guard: the committed component.json
// and actions/*.gen.go are what swagger.json generates, without a warning.
func TestGeneratedFilesAreFresh(t *testing.T) {
	root := filepath.Join("..", "..")
	code, msg := runCLI(t, "generate", "--check", "--strict", "--spec", filepath.Join(root, "swagger.json"), "--out", root)
	if code != 0 {
		t.Fatalf("connector generate --check: exit %d: %s", code, msg)
	}
}

func TestGenerateUsage(t *testing.T) {
	if code, _ := runCLI(t, "generate", "--bogus"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code, msg := runCLI(t, "generate", "--spec", filepath.Join(t.TempDir(), "none.json")); code != 1 || !strings.Contains(msg, "read spec") {
		t.Errorf("missing spec: exit %d, %q", code, msg)
	}
	if code, msg := runCLI(t, "generate", "--spec", filepath.Join("..", "..", "lib", "gen", "testdata", "swagger2", "swagger.json"),
		"--out", t.TempDir(), "--overlay", "nonexistent.json"); code != 1 || !strings.Contains(msg, "read overlay") {
		t.Errorf("missing --overlay file: exit %d, %q", code, msg)
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateWarningsAndStrict(t *testing.T) {
	spec := filepath.Join("..", "..", "lib", "gen", "testdata", "defect-ids", "spec.yaml")
	out := t.TempDir()
	code, msg := runCLI(t, "generate", "--spec", spec, "--out", out)
	if code != 0 || !strings.Contains(msg, "warning: paths./pets.get: no operationId; named getPets\n") {
		t.Fatalf("generate: exit %d, %q; want 0 with the warnings", code, msg)
	}
	code, msg = runCLI(t, "generate", "--check", "--strict", "--spec", spec, "--out", out)
	if code != 1 || !strings.Contains(msg, "5 warnings, which --strict makes errors") {
		t.Fatalf("--strict: exit %d, %q", code, msg)
	}
	fresh := t.TempDir()
	if code, _ := runCLI(t, "generate", "--strict", "--spec", spec, "--out", fresh); code != 1 {
		t.Fatalf("--strict wrote despite warnings: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(fresh, "component.json")); err == nil {
		t.Error("--strict wrote component.json despite warnings")
	}
}

func TestGenerateBreakingChanges(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.json")
	const pets = `"/pets":{"get":{"operationId":"listPets","parameters":[
		{"name":"filter[kind]","in":"query","type":"string"},{"name":"limit","in":"query","type":"integer"}],"responses":{"200":{"description":"ok"}}}}`
	const toys = `"/toys":{"get":{"operationId":"listToys","responses":{"200":{"description":"ok"}}}}`
	write := func(paths string) {
		writeFile(t, spec, `{"swagger":"2.0","info":{"title":"t","version":"1"},"paths":{`+paths+`}}`)
	}
	write(pets + "," + toys)
	out := filepath.Join(dir, "out")
	if code, msg := runCLI(t, "generate", "--spec", spec, "--out", out); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, msg)
	}
	before, _ := os.ReadFile(filepath.Join(out, "component.json"))

	// listToys removed, filter[kind] renamed to filter.kind (another field), limit retyped, a new action.
	write(strings.NewReplacer(`"filter[kind]"`, `"filter.kind"`, `"name":"limit","in":"query","type":"integer"`,
		`"name":"limit","in":"query","type":"string","required":true`).Replace(pets) +
		`,"/owners":{"get":{"operationId":"listOwners","responses":{"200":{"description":"ok"}}}}`)
	for _, args := range [][]string{{"--check"}, nil} {
		code, msg := runCLI(t, append([]string{"generate", "--spec", spec, "--out", out}, args...)...)
		for _, want := range []string{
			`component.json: breaking: action "listToys" removed`,
			`component.json: breaking: action "listPets": input field filter removed`,
			`component.json: added: action "listPets": input field filter_kind added`,
			`component.json: breaking: action "listPets": input field limit: type integer became string`,
			`component.json: added: action "listOwners" added`,
			"3 changes to component.json break flows configured against it",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("generate %v: output lacks %q:\n%s", args, want, msg)
			}
		}
		if code != 1 {
			t.Errorf("generate %v: exit %d, want 1", args, code)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(out, "component.json")); string(after) != string(before) {
		t.Fatal("generate wrote breaking changes without --allow-breaking")
	}
	if code, msg := runCLI(t, "generate", "--allow-breaking", "--spec", spec, "--out", out); code != 0 {
		t.Fatalf("--allow-breaking: exit %d: %s", code, msg)
	}
	if code, msg := runCLI(t, "generate", "--check", "--spec", spec, "--out", out); code != 0 || strings.Contains(msg, "breaking") {
		t.Fatalf("check after accepting: exit %d: %s", code, msg)
	}
}
