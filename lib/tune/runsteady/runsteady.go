// Package runsteady re-executes `connector run` with the worker's steady
// sysmon (tune.ReexecWithSteadySysmon) while packages are being initialized
// rather than from main. Go initializes packages in import-path order as soon
// as their imports are, so this package, which imports only lib/tune and the
// standard library, runs before kin-openapi and its JSON Schema compiler
// (`connector generate` and the sandbox need them; their initialization takes
// about 4 ms and 1.7 MB at every start), whose work the exec would throw
// away. cmd/connector imports it for this side effect only.
package runsteady

import (
	"os"

	"github.com/fitbitplus/connector/lib/tune"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "run" {
		tune.ReexecWithSteadySysmon()
	}
}
