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
// Schemas are converted to the platform's dialect (see schema.go): $refs
// inlined with a cycle guard, allOf merged, a boolean required on each
// property, readOnly properties left out of inputs, writeOnly ones out of
// outputs, defaults dropped.
package gen

import (
	"fmt"
	"path"

	"github.com/fitbitplus/connector/lib/manifest"
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

// Generate returns the generated files (slash-separated path relative to the
// output directory → content) for the API description specData.
func Generate(specData []byte, opts Options) (map[string][]byte, error) {
	doc, err := spec.Load(specData)
	if err != nil {
		return nil, err
	}
	return GenerateDoc(doc, opts)
}

// GenerateDoc is Generate for an already loaded description.
func GenerateDoc(doc *spec.Doc, opts Options) (map[string][]byte, error) {
	if opts.SpecName == "" {
		opts.SpecName = "swagger.json"
	}
	actions, err := newActions(doc)
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(actions)+2)
	for _, a := range actions {
		src, err := renderOperation(a, opts.SpecName)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.op.Where(), err)
		}
		files[a.file] = src
	}
	if files[RegistryFile], err = renderRegistry(actions, opts.SpecName); err != nil {
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
	if files[ComponentFile], err = manifest.Marshal(c); err != nil {
		return nil, err
	}
	return files, nil
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

func newActions(doc *spec.Doc) ([]*action, error) {
	var actions []*action
	byGoName := map[string]*action{}
	byFile := map[string]*action{}
	for _, op := range doc.Operations {
		a := &action{op: op, goName: goName(op.ID)}
		a.file = path.Join(ActionsDir, snake(op.ID)+GoSuffix)
		if a.goName == "" {
			return nil, fmt.Errorf("%s: operation id %q has no letters or digits", op.Where(), op.ID)
		}
		if a.file == RegistryFile || a.goName == "Registry" {
			return nil, fmt.Errorf("%s: operation id %q is reserved (the registry)", op.Where(), op.ID)
		}
		if other := byGoName[a.goName]; other != nil {
			return nil, fmt.Errorf("%s: Go name %s is also the name of %s", op.Where(), a.goName, other.op.Where())
		}
		if other := byFile[a.file]; other != nil {
			return nil, fmt.Errorf("%s: file %s is also the file of %s", op.Where(), a.file, other.op.Where())
		}
		byGoName[a.goName], byFile[a.file] = a, a
		var err error
		if a.params, a.in, err = inputs(op); err != nil {
			return nil, fmt.Errorf("%s: %w", op.Where(), err)
		}
		a.out = outputs(op)
		actions = append(actions, a)
	}
	return actions, nil
}
