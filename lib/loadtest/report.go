package loadtest

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Median combines repeats of one configuration: every measured figure is
// the median of the runs; the counts of losses, duplicates, errors and
// dead letters are the worst (highest) run's, so that a single loss shows.
func Median(runs []BenchResult) BenchResult {
	if len(runs) == 0 {
		return BenchResult{}
	}
	out := runs[0]
	pick := func(f func(BenchResult) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		sort.Float64s(xs)
		if len(xs)%2 == 1 {
			return xs[len(xs)/2]
		}
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	out.Seconds = pick(func(r BenchResult) float64 { return r.Seconds })
	out.MsgsPerSec = pick(func(r BenchResult) float64 { return r.MsgsPerSec })
	out.P50Ms = pick(func(r BenchResult) float64 { return r.P50Ms })
	out.P95Ms = pick(func(r BenchResult) float64 { return r.P95Ms })
	out.P99Ms = pick(func(r BenchResult) float64 { return r.P99Ms })
	out.PeakRSSMB = pick(func(r BenchResult) float64 { return r.PeakRSSMB })
	out.CPUMsPerMsg = pick(func(r BenchResult) float64 { return r.CPUMsPerMsg })
	out.FirstOutputMs = pick(func(r BenchResult) float64 { return r.FirstOutputMs })
	out.HarnessCPUMs = pick(func(r BenchResult) float64 { return r.HarnessCPUMs })
	out.OK = int(pick(func(r BenchResult) float64 { return float64(r.OK) }))
	out.IdleSeconds = pick(func(r BenchResult) float64 { return r.IdleSeconds })
	out.IdleContextSwitches = int64(pick(func(r BenchResult) float64 { return float64(r.IdleContextSwitches) }))
	out.IdleCPUMs = pick(func(r BenchResult) float64 { return r.IdleCPUMs })
	for _, r := range runs {
		out.Errors = max(out.Errors, r.Errors)
		out.Lost = max(out.Lost, r.Lost)
		out.Duplicates = max(out.Duplicates, r.Duplicates)
		out.DeadLettered = max(out.DeadLettered, r.DeadLettered)
	}
	return out
}

// WriteTable writes results as a markdown table. Latency percentiles are
// "–" for prefill runs (every input waited in the queue from before the
// launch, so time from publish to output measures the backlog, not the
// worker); the worker's columns are "–" for the broker's in-process relay
// (a relay process has its CPU and RSS).
func WriteTable(w io.Writer, results []BenchResult) error {
	var b strings.Builder
	var loads, idles []BenchResult
	for _, r := range results {
		if r.Load == "idle" {
			idles = append(idles, r)
		} else {
			loads = append(loads, r)
		}
	}
	if len(idles) > 0 {
		b.WriteString("| mode | action | prefetch | workers | idle s | context switches | per 10 s | CPU ms | per 10 s | peak RSS MB |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, r := range idles {
			per10 := 10 / max(r.IdleSeconds, 1e-9)
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %.1f | %d | %.0f | %.0f | %.0f | %.1f |\n", r.Mode, r.Action, r.Prefetch, r.Workers,
				r.IdleSeconds, r.IdleContextSwitches, float64(r.IdleContextSwitches)*per10, r.IdleCPUMs, r.IdleCPUMs*per10, r.PeakRSSMB)
		}
		if len(loads) == 0 {
			_, err := io.WriteString(w, b.String())
			return err
		}
		b.WriteString("\n")
	}
	b.WriteString("| mode | load | action | N | prefetch | workers | queue | API latency | fail rate | ok | errors | lost | dup | dead | msg/s | p50 ms | p95 ms | p99 ms | peak RSS MB | CPU ms/msg | harness CPU ms/msg | first output ms |\n")
	b.WriteString("|---|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range loads {
		queue := "classic"
		switch {
		case r.Replicas > 0:
			queue = fmt.Sprintf("all quorum, %d node(s)", r.Nodes)
		case r.Quorum:
			queue = "quorum"
		}
		load := r.Load
		switch {
		case load == "window" && r.Window > 0:
			load = fmt.Sprintf("window %d", r.Window)
		case load == "":
			load = "window"
		}
		p50, p95, p99 := fmt.Sprintf("%.1f", r.P50Ms), fmt.Sprintf("%.1f", r.P95Ms), fmt.Sprintf("%.1f", r.P99Ms)
		if r.Load == "prefill" {
			p50, p95, p99 = "–", "–", "–"
		}
		rss, cpu, first := "–", "–", "–"
		if r.Mode == "connector" || r.PeakRSSMB > 0 { // a worker or a relay process
			rss, cpu = fmt.Sprintf("%.1f", r.PeakRSSMB), fmt.Sprintf("%.3f", r.CPUMsPerMsg)
		}
		if r.Mode == "connector" {
			first = fmt.Sprintf("%.0f", r.FirstOutputMs)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d | %s | %.0f ms | %.2f | %d | %d | %d | %d | %d | %.0f | %s | %s | %s | %s | %s | %.3f | %s |\n",
			r.Mode, load, r.Action, r.N, r.Prefetch, r.Workers, queue, r.APILatencyMs, r.FailRate, r.OK, r.Errors, r.Lost,
			r.Duplicates, r.DeadLettered, r.MsgsPerSec, p50, p95, p99, rss, cpu, r.HarnessCPUMs, first)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
