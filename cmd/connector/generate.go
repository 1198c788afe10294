package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fitbitplus/connector/lib/gen"
)

// The descriptor texts of this component. The generator itself is generic;
// these say what the Fitbit Plus connector is.
const (
	componentTitle       = "Fitbit Plus"
	componentDescription = "Connects flows to the Fitbit Plus (formerly Twine Health) REST API: one action per API operation " +
		"(patients, groups, plans and actions, calendar events, health metrics and profiles, rewards), with typed input and output, " +
		"OAuth2 client-credentials authentication per credential, paging, and polling triggers for incremental sync into records systems."
	componentDocsURL = "https://github.com/fitbitplus/connector#readme"
	// componentVersion is the version of the component, not of the API
	// (swagger.json's info.version). Bump it on releases.
	componentVersion = "1.0.0"
	overlayFile      = "component.overlay.json"
)

// cmdGenerate writes component.json and actions/*.gen.go from the API
// description, or with --check reports what differs from what it would
// write.
func cmdGenerate(ctx context.Context, c *cli, args []string) error {
	fl := flag.NewFlagSet("generate", flag.ContinueOnError)
	fl.SetOutput(c.Stderr)
	specPath := fl.String("spec", "swagger.json", "API description: Swagger 2.0 or OpenAPI 3.0, JSON or YAML")
	out := fl.String("out", ".", "output directory (component.json and actions/ go there)")
	overlay := fl.String("overlay", "", "descriptor overlay merged into component.json (default: OUT/"+overlayFile+" if present)")
	check := fl.Bool("check", false, "write nothing; exit 1 naming the files that differ from what would be written")
	if err := fl.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if fl.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q", fl.Arg(0))}
	}

	specData, err := os.ReadFile(*specPath)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	opts := gen.Options{
		SpecName:    filepath.Base(*specPath),
		Title:       componentTitle,
		Description: componentDescription,
		DocsURL:     componentDocsURL,
		Version:     componentVersion,
	}
	if opts.Overlay, err = readOverlay(*overlay, *out); err != nil {
		return err
	}
	files, err := gen.Generate(specData, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", *specPath, err)
	}

	if *check {
		diffs, err := gen.Check(*out, files)
		if err != nil {
			return err
		}
		if len(diffs) == 0 {
			return nil
		}
		names := make([]string, len(diffs))
		for i, d := range diffs {
			names[i] = d.String()
		}
		return &exitError{code: 1, err: fmt.Errorf("generated files are out of date (run connector generate): %s", strings.Join(names, ", "))}
	}
	diffs, err := gen.Write(*out, files)
	if err != nil {
		return err
	}
	for _, d := range diffs {
		verb := "wrote"
		if d.Reason == "extra" {
			verb = "removed"
		}
		fmt.Fprintf(c.Stdout, "%s %s\n", verb, filepath.Join(*out, filepath.FromSlash(d.Path)))
	}
	return nil
}

// readOverlay reads the overlay named by --overlay (which must exist), else
// OUT/component.overlay.json when present; nil when there is none.
func readOverlay(flagPath, out string) ([]byte, error) {
	p := flagPath
	if p == "" {
		p = filepath.Join(out, overlayFile)
	}
	data, err := os.ReadFile(p)
	if flagPath == "" && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read overlay: %w", err)
	}
	return data, nil
}
