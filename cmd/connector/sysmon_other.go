//go:build !linux

package main

// reexecWithSteadySysmon is a no-op where /proc/self/exe is not available.
func reexecWithSteadySysmon() {}
