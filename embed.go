// Package connector bundles the files at the root of the repository that the
// binary needs at run time: the API description and the component descriptor.
package connector

import _ "embed"

// SwaggerJSON is swagger.json: the Fitbit Plus API as Swagger 2.0, the single
// source of truth for the generator and the sandbox.
//
//go:embed swagger.json
var SwaggerJSON []byte

// ComponentJSON is component.json, generated from swagger.json.
//
//go:embed component.json
var ComponentJSON []byte
