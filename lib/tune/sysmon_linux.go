package tune

import (
	"os"
	"syscall"
)

// ReexecWithSteadySysmon replaces the process with itself (same PID, same
// arguments) running with SteadySysmon in GODEBUG, which the runtime reads
// only at start. It returns when GODEBUG already sets schedtrace, and when
// the exec fails (the worker then runs as it is, only costlier in CPU).
func ReexecWithSteadySysmon() {
	env, ok := WithSteadySysmon(os.Environ())
	if !ok {
		return
	}
	// /proc/self/exe names this binary even if its file was replaced.
	_ = syscall.Exec("/proc/self/exe", os.Args, env)
}
