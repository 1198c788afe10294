// Package tune holds the Go runtime settings a message worker gives itself:
// how many Ps, a steady sysmon, and the collector's pace. Each is measured
// and explained where it is defined; an operator's GOMAXPROCS, GODEBUG
// schedtrace, GOGC or GOMEMLIMIT always wins.
package tune

import "runtime"

// workerProcs is the GOMAXPROCS the worker sets for itself, 0 to keep the
// runtime's default. A worker with few messages in flight is I/O-bound: its
// CPU per message is mostly the hand-offs between its goroutines (AMQP
// readers, HTTP connection loops, handlers), and a second P turns those into
// cross-thread wake-ups. Measured on two cores (prefill drain, medians of 5,
// A/B in alternation): one P takes 30% less CPU per message at prefetch 1 and
// 15-20% less at prefetch 4 and 10 for the same throughput; from prefetch 16
// on, bursts of completions use the second core and one P loses throughput
// (6-16% at prefetch 32 and 64). An explicit GOMAXPROCS always wins.
func workerProcs(prefetch int, gomaxprocs string) int {
	if prefetch <= maxSingleProcPrefetch && gomaxprocs == "" {
		return 1
	}
	return 0
}

// maxSingleProcPrefetch is the highest prefetch that runs on one P.
const maxSingleProcPrefetch = 10

// SetProcs applies workerProcs to this process for a consumer with the
// given prefetch, reading GOMAXPROCS with getenv.
func SetProcs(prefetch int, getenv func(string) string) {
	if n := workerProcs(prefetch, getenv("GOMAXPROCS")); n > 0 {
		runtime.GOMAXPROCS(n)
	}
}
