package tune

import (
	"io/fs"
	"testing"
)

func TestGCSettings(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if v, ok := m[p]; ok {
				return []byte(v), nil
			}
			return nil, fs.ErrNotExist
		}
	}
	const v2, v1 = "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	cases := []struct {
		name    string
		env     map[string]string
		cgroup  map[string]string
		percent int
		limit   int64
	}{
		{"no cgroup", nil, nil, workerGCPercent, 0},
		{"cgroup v2 limit", nil, map[string]string{v2: "268435456\n"}, workerGCPercent, 241591905},
		{"cgroup v2 unlimited", nil, map[string]string{v2: "max\n"}, workerGCPercent, 0},
		{"cgroup v1 limit", nil, map[string]string{v1: "536870912\n"}, workerGCPercent, 483183819},
		{"cgroup v1 unlimited", nil, map[string]string{v1: "9223372036854771712\n"}, workerGCPercent, 0},
		{"v2 first", nil, map[string]string{v2: "1000", v1: "2000"}, workerGCPercent, 900},
		{"garbage", nil, map[string]string{v2: "lots"}, workerGCPercent, 0},
		{"operator's GOGC", map[string]string{"GOGC": "50"}, map[string]string{v2: "1000"}, 0, 900},
		{"operator's GOMEMLIMIT", map[string]string{"GOMEMLIMIT": "100MiB"}, map[string]string{v2: "1000"}, workerGCPercent, 0},
	}
	for _, c := range cases {
		getenv := func(k string) string { return c.env[k] }
		percent, limit := gcSettings(getenv, files(c.cgroup))
		if percent != c.percent || limit != c.limit {
			t.Errorf("%s: gcSettings = %d, %d; want %d, %d", c.name, percent, limit, c.percent, c.limit)
		}
	}
}
