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
	_ = syscall.Exec(selfPath(), os.Args, env)
}

// selfPath is the file this process runs. The kernel names a process after
// the file it executes, so the binary's own path keeps the name operators
// see in ps, top and pgrep ("connector"); /proc/self/exe would rename it
// "exe". When that path no longer holds this binary (replaced or deleted
// during an upgrade), /proc/self/exe still does, and the name is lost
// rather than running another binary.
func selfPath() string {
	const proc = "/proc/self/exe"
	path, err := os.Executable()
	if err != nil {
		return proc
	}
	running, err1 := os.Stat(proc)
	onDisk, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(running, onDisk) {
		return proc
	}
	return path
}
