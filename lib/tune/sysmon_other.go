//go:build !linux

package tune

// ReexecWithSteadySysmon is a no-op where /proc/self/exe is not available.
func ReexecWithSteadySysmon() {}
