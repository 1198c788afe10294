package main

import (
	"os"
	"syscall"
)

// reexecWithSteadySysmon replaces the process with itself (same PID, same
// arguments) running with steadySysmon in GODEBUG, which the runtime reads
// only at start. It returns when GODEBUG already sets schedtrace, and when
// the exec fails (the worker then runs as it is, only costlier in CPU).
func reexecWithSteadySysmon() {
	env, ok := withSteadySysmon(os.Environ())
	if !ok {
		return
	}
	// /proc/self/exe names this binary even if its file was replaced.
	_ = syscall.Exec("/proc/self/exe", os.Args, env)
}
