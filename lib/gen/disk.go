package gen

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Difference is a generated file whose disk state is not what Generate
// returned.
type Difference struct {
	Path   string // slash-separated, relative to the output directory
	Reason string // "stale", "missing" or "extra"
}

func (d Difference) String() string { return d.Path + " (" + d.Reason + ")" }

// Check compares files with the output directory dir. It reports generated
// files that differ or are missing, and files under actions/ with the
// generated suffix that Generate did not return. Sorted by path.
func Check(dir string, files map[string][]byte) ([]Difference, error) {
	var diffs []Difference
	for _, name := range slices.Sorted(maps.Keys(files)) {
		have, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			diffs = append(diffs, Difference{name, "missing"})
		case err != nil:
			return nil, fmt.Errorf("check %s: %w", name, err)
		case !bytes.Equal(have, files[name]):
			diffs = append(diffs, Difference{name, "stale"})
		}
	}
	extra, err := extraFiles(dir, files)
	if err != nil {
		return nil, err
	}
	for _, name := range extra {
		diffs = append(diffs, Difference{name, "extra"})
	}
	slices.SortFunc(diffs, func(a, b Difference) int { return strings.Compare(a.Path, b.Path) })
	return diffs, nil
}

// Write puts files into dir, rewriting only files whose content differs, and
// deletes the generated files under actions/ that are not in files. It
// returns what it changed (as Check would have reported it).
func Write(dir string, files map[string][]byte) ([]Difference, error) {
	diffs, err := Check(dir, files)
	if err != nil {
		return nil, err
	}
	for _, d := range diffs {
		name := filepath.Join(dir, filepath.FromSlash(d.Path))
		if d.Reason == "extra" {
			if err := os.Remove(name); err != nil {
				return nil, fmt.Errorf("remove %s: %w", d.Path, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return nil, fmt.Errorf("write %s: %w", d.Path, err)
		}
		if err := os.WriteFile(name, files[d.Path], 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", d.Path, err)
		}
	}
	return diffs, nil
}

// extraFiles lists actions/*.gen.go files in dir that files lacks.
func extraFiles(dir string, files map[string][]byte) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, ActionsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", ActionsDir, err)
	}
	var extra []string
	for _, e := range entries {
		name := path.Join(ActionsDir, e.Name())
		if !e.IsDir() && strings.HasSuffix(e.Name(), GoSuffix) && files[name] == nil {
			extra = append(extra, name)
		}
	}
	return extra, nil
}
