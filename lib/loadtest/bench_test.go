//go:build integration

package loadtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/loadtest"
)

// TestBenchSmoke runs the benchmark as cmd/loadbench does, small: the
// connector with two workers on a quorum queue, and the broker-only relay.
func TestBenchSmoke(t *testing.T) {
	ctx := context.Background()
	relay, err := loadtest.BuildLoadbench()
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []loadtest.BenchConfig{
		{Action: loadtest.ActionFetchPatient, N: 200, Prefetch: 5, Workers: 2, Quorum: true, Timeout: time.Minute},
		{Action: loadtest.ActionCreateMetric, N: 100, Prefetch: 5, Workers: 1, APILatency: 5 * time.Millisecond, Timeout: time.Minute},
		{N: 200, Prefetch: 5, BrokerOnly: true, Timeout: time.Minute},
		{Action: loadtest.ActionFetchPatient, N: 200, Prefetch: 10, Workers: 1, Prefill: true, Timeout: time.Minute},
		{N: 200, Prefetch: 10, BrokerOnly: true, Prefill: true, Timeout: time.Minute},
		{N: 200, Prefetch: 10, BrokerOnly: true, Prefill: true, RelayBinary: relay, APILatency: 10 * time.Millisecond, Timeout: time.Minute},
	} {
		r, err := loadtest.Bench(ctx, cfg)
		if err != nil {
			t.Fatalf("%+v: %v", cfg, err)
		}
		t.Logf("%s %s workers=%d: %.0f msg/s ok=%d lost=%d dup=%d rss=%.1fMB cpu=%.3fms/msg first=%.0fms",
			r.Mode, r.Action, r.Workers, r.MsgsPerSec, r.OK, r.Lost, r.Duplicates, r.PeakRSSMB, r.CPUMsPerMsg, r.FirstOutputMs)
		if r.OK != cfg.N || r.Lost != 0 || r.Duplicates != 0 || r.Errors != 0 || r.DeadLettered != 0 {
			t.Errorf("%s: tally %+v", r.Mode, r.Tally)
		}
		if cfg.Prefill {
			if r.Load != "prefill" || r.MsgsPerSec <= 0 || r.Seconds <= 0 || r.P50Ms != 0 {
				t.Errorf("%s prefill: load %q, rate %.0f over %.3fs, p50 %.1f", r.Mode, r.Load, r.MsgsPerSec, r.Seconds, r.P50Ms)
			}
		} else if r.MsgsPerSec <= 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms {
			t.Errorf("%s: rate %.0f, p50 %.1f, p99 %.1f", r.Mode, r.MsgsPerSec, r.P50Ms, r.P99Ms)
		}
		if cfg.RelayBinary != "" && (r.Action != "relay process" || r.PeakRSSMB <= 1 || r.CPUMsPerMsg <= 0) {
			t.Errorf("relay process figures: %q, rss %.1f MB, cpu %.3f ms/msg", r.Action, r.PeakRSSMB, r.CPUMsPerMsg)
		}
		// Little's law bounds a relay that waits the latency: prefetch /
		// latency (a drain of 20 batches is timed over 19: 5 % above it).
		if cfg.BrokerOnly && cfg.APILatency > 0 {
			if bound := float64(cfg.Prefetch) / cfg.APILatency.Seconds(); r.MsgsPerSec > 1.2*bound {
				t.Errorf("relay with %v latency: %.0f msg/s, above Little's law (%.0f)", cfg.APILatency, r.MsgsPerSec, bound)
			}
		}
		if r.Mode == "connector" {
			if r.PeakRSSMB <= 1 || r.CPUMsPerMsg <= 0 || r.FirstOutputMs <= 0 || len(r.WorkerExits) != cfg.Workers {
				t.Errorf("worker figures: rss %.1f MB, cpu %.3f ms/msg, first output %.0f ms, exits %v",
					r.PeakRSSMB, r.CPUMsPerMsg, r.FirstOutputMs, r.WorkerExits)
			}
			for _, code := range r.WorkerExits {
				if code != 0 {
					t.Errorf("a worker exited %d after SIGTERM", code)
				}
			}
		}
	}
}
