package tune

import "testing"

func TestWorkerProcs(t *testing.T) {
	cases := []struct {
		prefetch   int
		gomaxprocs string
		want       int
	}{
		{1, "", 1},  // one message at a time: one P
		{1, "4", 0}, // the operator's GOMAXPROCS wins
		{10, "", 1},
		{10, "2", 0},
		{11, "", 0}, // bursts of completions use more cores: the runtime's default
		{64, "", 0},
	}
	for _, c := range cases {
		if got := workerProcs(c.prefetch, c.gomaxprocs); got != c.want {
			t.Errorf("workerProcs(%d, %q) = %d, want %d", c.prefetch, c.gomaxprocs, got, c.want)
		}
	}
}
