package loadtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dockerStage is the instructions of one build stage that matter here.
type dockerStage struct {
	from       string
	user       string
	entrypoint []string
	cmd        []string
}

// parseDockerfile splits a Dockerfile into stages (line continuations and
// comments handled; exec-form JSON arrays parsed, shell form kept as one
// element).
func parseDockerfile(text string) []dockerStage {
	var stages []dockerStage
	text = strings.ReplaceAll(text, "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, arg, _ := strings.Cut(line, " ")
		arg = strings.TrimSpace(arg)
		switch strings.ToUpper(instr) {
		case "FROM":
			stages = append(stages, dockerStage{from: arg})
		case "USER":
			if len(stages) > 0 {
				stages[len(stages)-1].user = arg
			}
		case "ENTRYPOINT", "CMD":
			if len(stages) == 0 {
				continue
			}
			var list []string
			if err := json.Unmarshal([]byte(arg), &list); err != nil {
				list = []string{arg}
			}
			if strings.ToUpper(instr) == "CMD" {
				stages[len(stages)-1].cmd = list
			} else {
				stages[len(stages)-1].entrypoint = list
			}
		}
	}
	return stages
}

func TestDockerfileRunsConnectorAsNonRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(string(b))
	if len(stages) == 0 {
		t.Fatal("no FROM in the Dockerfile")
	}
	final := stages[len(stages)-1]
	if msg := nonRootProblem(final); msg != "" {
		t.Error(msg)
	}
	if len(final.entrypoint) != 1 || filepath.Base(final.entrypoint[0]) != "connector" {
		t.Errorf("final stage ENTRYPOINT %q, want the connector binary (exec form)", final.entrypoint)
	}
	if len(final.cmd) != 1 || final.cmd[0] != "run" {
		t.Errorf("final stage CMD %q, want [\"run\"]", final.cmd)
	}
}

// nonRootProblem says what is wrong with a stage's user, or "".
func nonRootProblem(s dockerStage) string {
	user, _, _ := strings.Cut(s.user, ":")
	switch {
	case user == "":
		if strings.Contains(s.from, ":nonroot") {
			return "" // distroless :nonroot images default to uid 65532
		}
		return "the final stage sets no USER: the container would run as root"
	case user == "root" || user == "0":
		return "the final stage runs as root (USER " + s.user + ")"
	}
	return ""
}

func TestNonRootProblemCatchesRoot(t *testing.T) {
	for text, bad := range map[string]bool{
		"FROM debian\nUSER root\nENTRYPOINT [\"/app/connector\"]\n":         true,
		"FROM debian\nUSER 0:0\n":                                           true,
		"FROM debian\n":                                                     true,
		"FROM golang AS build\nUSER 1000\nFROM debian\n":                    true,
		"FROM debian\nUSER 65532:65532\n":                                   false,
		"FROM gcr.io/distroless/static-debian12:nonroot\nCMD [\"run\"]\n":   false,
		"FROM a AS b\n# USER root\nFROM c\nUSER app\nCMD \\\n  [\"run\"]\n": false,
	} {
		stages := parseDockerfile(text)
		if got := nonRootProblem(stages[len(stages)-1]) != ""; got != bad {
			t.Errorf("%q: problem found = %v, want %v", text, got, bad)
		}
	}
}
