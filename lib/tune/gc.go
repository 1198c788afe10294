package tune

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// workerGCPercent is the GOGC the worker runs with unless GOGC is set. A
// worker's live heap is tiny (under 1 MB) while it allocated about 40 KB per
// message when this was measured (13 KB since), so at the default of 100 the
// heap target sits at the runtime's
// 4 MB floor and the collector runs about 20 times a second at prefetch 10
// (gctrace: 97 collections in 4.4 s at 2,300 msg/s). At 200 it runs half as
// often (40 in 3.6 s at 2,800 msg/s). Measured over 4 rounds of
// 20,000-message drains, A/B in alternation: -10% CPU per message at
// prefetch 10 and -13% at 64, +9 to +15% msg/s (shorter runs of 3,000 ranged
// from no difference at prefetch 1 to -26% at 64; -10 to -19% at 64 with
// 50 ms API latency); peak RSS 19-22 -> 23-25.5 MB.
const workerGCPercent = 200

// gcSettings returns the GC percent (0: keep the runtime's) and the soft
// memory limit in bytes (0: none) that the worker sets for itself. An
// explicit GOGC or GOMEMLIMIT always wins. The limit is 90% of the
// container's memory limit (cgroup v2 or v1), so that the larger GOGC never
// takes a worker holding large messages into the container's OOM killer:
// near the limit the collector works harder instead.
func gcSettings(getenv func(string) string, readFile func(string) ([]byte, error)) (percent int, limit int64) {
	if getenv("GOGC") == "" {
		percent = workerGCPercent
	}
	if getenv("GOMEMLIMIT") == "" {
		if n := containerMemoryLimit(readFile); n > 0 {
			limit = n / 10 * 9
		}
	}
	return percent, limit
}

// containerMemoryLimit reads the memory limit of the process's cgroup as
// mounted in a container, 0 when there is none.
func containerMemoryLimit(readFile func(string) ([]byte, error)) int64 {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := readFile(path)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<62 { // "max", or v1's page-rounded MaxInt64
			return 0
		}
		return n
	}
	return 0
}

// SetGC applies gcSettings to this process, reading the environment with
// getenv and the cgroup files from the filesystem.
func SetGC(getenv func(string) string) {
	percent, limit := gcSettings(getenv, os.ReadFile)
	if percent > 0 {
		debug.SetGCPercent(percent)
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
}
