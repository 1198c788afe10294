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
	"github.com/fitbitplus/connector/lib/manifest"
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
// write. It prints each defect of the description it worked around as a
// warning (--strict makes them errors), and names the changes to
// component.json that would break configured flows: these stop it unless
// --allow-breaking is given.
func cmdGenerate(ctx context.Context, c *cli, args []string) error {
	fl := flag.NewFlagSet("generate", flag.ContinueOnError)
	fl.SetOutput(c.Stderr)
	specPath := fl.String("spec", "swagger.json", "API description: Swagger 2.0, OpenAPI 3.0 or 3.1, JSON or YAML")
	out := fl.String("out", ".", "output directory (component.json and actions/ go there)")
	overlay := fl.String("overlay", "", "descriptor overlay merged into component.json (default: OUT/"+overlayFile+" if present)")
	check := fl.Bool("check", false, "write nothing; exit 1 naming the files that differ from what would be written")
	strict := fl.Bool("strict", false, "treat every warning about the description as an error")
	allowBreaking := fl.Bool("allow-breaking", false, "accept changes to component.json that break configured flows")
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
	res, err := gen.Generate(specData, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", *specPath, err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(c.Stderr, "warning: %s\n", w)
	}
	if *strict && len(res.Warnings) > 0 {
		return fmt.Errorf("%s: %d warnings, which --strict makes errors", *specPath, len(res.Warnings))
	}
	breaking, err := reportChanges(c, *out, res.Files[gen.ComponentFile])
	if err != nil {
		return err
	}
	if breaking > 0 && !*allowBreaking {
		return fmt.Errorf("%d changes to %s break flows configured against it (named above); "+
			"give --allow-breaking to accept them", breaking, gen.ComponentFile)
	}

	if *check {
		diffs, err := gen.Check(*out, res.Files)
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
	diffs, err := gen.Write(*out, res.Files)
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

// reportChanges prints what the generated descriptor changes against the
// one in dir (nothing when there is none yet) and returns how many of the
// changes are breaking.
func reportChanges(c *cli, dir string, generated []byte) (int, error) {
	onDisk, err := os.ReadFile(filepath.Join(dir, gen.ComponentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", gen.ComponentFile, err)
	}
	old, err := manifest.Parse(onDisk)
	if err != nil {
		return 0, fmt.Errorf("%s on disk: %w", gen.ComponentFile, err)
	}
	cur, err := manifest.Parse(generated)
	if err != nil {
		return 0, err
	}
	breaking := 0
	for _, ch := range manifest.Compare(old, cur) {
		fmt.Fprintf(c.Stderr, "%s: %s\n", gen.ComponentFile, ch)
		if ch.Breaking {
			breaking++
		}
	}
	return breaking, nil
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
