// Package gen generates the component from an API description: the
// elastic.io descriptor component.json and, under actions/, one Go file per
// operation holding its static facts (a rest.Operation) plus an explicit
// registry. Generate is pure; Write and Check put its result on disk or
// compare it with the disk.
//
// Naming rules:
//   - action name: the operationId; an operation without one gets
//     spec.DeriveID(method, path), e.g. GET /pets/{petId} → getPetsByPetId;
//   - Go variable: the action name in PascalCase (FetchPatients);
//   - file: actions/<snake_case name>.gen.go (actions/fetch_patients.gen.go);
//   - input fields: path parameters top-level by name; query parameters with
//     brackets nested (filter[identifier][system] → filter.identifier.system);
//     header parameters under "headers"; the request document in
//     "requestBody".
//
// A name that cannot be used as it is changes, with a warning in
// Result.Warnings: an id whose Go or file name another action has, or that
// is reserved, gets a numeric suffix (listPets2); a wire name that is no
// field path gets "_" for its dots and stray brackets (dateRange.startDate →
// dateRange_startDate); a field that is taken is flattened, then prefixed
// with the location (query_id), then numbered (see inputs).
//
// Schemas are converted to the platform's dialect (see schema.go): $refs
// inlined with a cycle guard, allOf merged, a boolean required on each
// property, readOnly properties left out of inputs, writeOnly ones out of
// outputs, defaults dropped.
package gen

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/fitbitplus/connector/lib/manifest"
	"github.com/fitbitplus/connector/lib/rest"
	"github.com/fitbitplus/connector/lib/spec"
)

// Options tune a generation. Empty texts fall back to the API description.
type Options struct {
	// SpecName is the spec's file name for the header of generated Go files
	// ("swagger.json" when empty).
	SpecName string
	// Title of the component; default info.title.
	Title string
	// Description of the component; default the first paragraph of
	// info.description.
	Description string
	// DocsURL is the component's documentation link; omitted when empty.
	DocsURL string
	// Version of the component; default info.version.
	Version string
	// Overlay is a partial descriptor whose triggers and actions are merged
	// into the generated one (component.overlay.json); nil for none.
	Overlay []byte
}

// Paths of the generated files, relative to the output directory.
const (
	ComponentFile = "component.json"
	ActionsDir    = "actions"
	RegistryFile  = "actions/registry.gen.go"
	// GoSuffix marks the files under ActionsDir that the generator owns.
	GoSuffix = ".gen.go"
)

// Result is what a generation produces.
type Result struct {
	// Files maps each generated file (slash-separated path relative to the
	// output directory) to its content.
	Files map[string][]byte
	// Warnings are the defects of the description that were worked around,
	// by loading (spec.Load) and by generation (names, input fields), in
	// that order.
	Warnings []spec.Warning
	// Operations are the static facts each action file holds, sorted by id.
	Operations []*rest.Operation
}

// Generate returns the generated files for the API description specData.
func Generate(specData []byte, opts Options) (*Result, error) {
	doc, err := spec.Load(specData)
	if err != nil {
		return nil, err
	}
	return GenerateDoc(doc, opts)
}

// GenerateDoc is Generate for an already loaded description. It renames, in
// doc, the operations whose ids cannot be used as they are (see newActions).
func GenerateDoc(doc *spec.Doc, opts Options) (*Result, error) {
	if opts.SpecName == "" {
		opts.SpecName = "swagger.json"
	}
	if len(doc.Operations) == 0 {
		return nil, errors.New("paths: no operation to generate an action from")
	}
	var genWarnings []spec.Warning
	warn := func(where, format string, args ...any) {
		genWarnings = append(genWarnings, spec.Warning{Where: where, What: fmt.Sprintf(format, args...)})
	}
	actions := newActions(doc, warn)
	res := &Result{Files: make(map[string][]byte, len(actions)+2)}
	for _, a := range actions {
		op := restOperation(a)
		src, err := renderOperation(a, op, opts.SpecName)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.op.Where(), err)
		}
		res.Files[a.file] = src
		res.Operations = append(res.Operations, op)
	}
	var err error
	if res.Files[RegistryFile], err = renderRegistry(actions, opts.SpecName); err != nil {
		return nil, err
	}
	c := descriptor(doc, actions, opts)
	if opts.Overlay != nil {
		overlay, err := manifest.Parse(opts.Overlay)
		if err != nil {
			return nil, fmt.Errorf("overlay: %w", err)
		}
		if err := c.Merge(overlay); err != nil {
			return nil, err
		}
	}
	if res.Files[ComponentFile], err = manifest.Marshal(c); err != nil {
		return nil, err
	}
	res.Warnings = append(slices.Clone(doc.Warnings), genWarnings...)
	return res, nil
}

// action is one operation with everything the outputs need.
type action struct {
	op     *spec.Operation
	goName string // exported Go variable
	file   string // e.g. "actions/fetch_patients.gen.go"
	params []param
	in     *manifest.Schema
	out    *manifest.Schema
}

// param is a parameter with its input field.
type param struct {
	*spec.Param
	field string // dotted input field, e.g. "filter.patient"
}

// warnFunc records a warning of generation.
type warnFunc func(where, format string, args ...any)

// newActions names the actions and their input fields. An id that has no
// letters or digits, is reserved, or gives a Go name or file name another
// action has, is renamed (a numeric suffix), with a warning.
func newActions(doc *spec.Doc, warn warnFunc) []*action {
	var actions []*action
	ids := map[string]bool{}
	for _, op := range doc.Operations {
		ids[op.ID] = true
	}
	byGoName := map[string]*action{"Registry": nil}
	byFile := map[string]*action{RegistryFile: nil}
	for _, op := range doc.Operations {
		if goName(op.ID) == "" {
			id := unique(spec.DeriveID(op.Method, op.Path), ids)
			warn(op.Where(), "operation id %q has no letters or digits; named %s", op.ID, id)
			op.ID, ids[id] = id, true
		}
		for {
			g, f := goName(op.ID), path.Join(ActionsDir, snake(op.ID)+GoSuffix)
			other, clash := byGoName[g]
			what := "Go name " + g
			if !clash {
				other, clash = byFile[f]
				what = "file " + f
			}
			if !clash {
				break
			}
			id := unique(op.ID, ids)
			if other == nil {
				warn(op.Where(), "%s is reserved (the registry); action named %s", what, id)
			} else {
				warn(op.Where(), "%s is also that of %s; action named %s", what, other.op.Where(), id)
			}
			op.ID, ids[id] = id, true
		}
		a := &action{op: op, goName: goName(op.ID), file: path.Join(ActionsDir, snake(op.ID)+GoSuffix)}
		byGoName[a.goName], byFile[a.file] = a, a
		a.params, a.in = inputs(op, warn)
		a.out = outputs(op)
		actions = append(actions, a)
	}
	slices.SortFunc(actions, func(a, b *action) int { return strings.Compare(a.op.ID, b.op.ID) })
	return actions
}

// unique is id with the lowest numeric suffix from 2 that is not taken.
func unique(id string, taken map[string]bool) string {
	if !taken[id] {
		return id
	}
	for n := 2; ; n++ {
		if c := id + strconv.Itoa(n); !taken[c] {
			return c
		}
	}
}
