package tune

import "strings"

// SteadySysmon is the GODEBUG setting the worker runs with: it keeps the Go
// runtime's system monitor (sysmon) out of its deep sleep.
//
// Why: a worker waits on the broker and the API between messages, so all its
// Ps go idle many times a second. Sysmon then sleeps deeply, and the next
// system call (every socket write) must wake it with a futex; woken that
// way, sysmon polls every 20 µs again for the next millisecond. On the
// worker that is a wake-up and tens of nanosleeps per message: a perf
// profile at prefetch 10 put 22% of the worker's CPU in sysmon. With
// schedtrace set, sysmon never sleeps deeply: it backs off to one wake-up per
// 10 ms, as in any busy Go program, and system calls never wake it. Measured
// (prefill drains, A/B in alternation): 20-25% less CPU per message at
// prefetch 1, 10-25% at prefetch 10, 10-16% at prefetch 64 with 50 ms API
// latency, for the same throughput.
//
// The trace interval is the largest the runtime accepts (2^31-1 ms, 24.8
// days), counted from the host's boot: a host up longer than that gets one
// "SCHED" line on stderr at start and one per 24.8 days. A GODEBUG that
// already sets schedtrace is the operator's choice and is kept; to opt out,
// set GODEBUG=schedtrace=0.
const SteadySysmon = "schedtrace=2147483647"

// WithSteadySysmon returns env with SteadySysmon added to GODEBUG, and false
// when GODEBUG already sets schedtrace (env is then unchanged). Like the
// runtime, it reads the first GODEBUG entry only.
func WithSteadySysmon(env []string) ([]string, bool) {
	out := append(make([]string, 0, len(env)+1), env...)
	for i, kv := range out {
		value, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			continue
		}
		for _, setting := range strings.Split(value, ",") {
			if name, _, _ := strings.Cut(setting, "="); strings.TrimSpace(name) == "schedtrace" {
				return env, false
			}
		}
		if value != "" {
			value += ","
		}
		out[i] = "GODEBUG=" + value + SteadySysmon
		return out, true
	}
	return append(out, "GODEBUG="+SteadySysmon), true
}
