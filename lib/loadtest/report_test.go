package loadtest

import (
	"strings"
	"testing"
)

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	for p, want := range map[float64]float64{50: 5, 95: 10, 99: 10, 10: 1, 0: 1} {
		if got := Percentile(xs, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty input")
	}
	if xs[0] != 5 {
		t.Error("Percentile sorted its input in place")
	}
}

func TestMedianKeepsWorstLosses(t *testing.T) {
	runs := []BenchResult{
		{MsgsPerSec: 100, P50Ms: 3, Tally: Tally{OK: 10}},
		{MsgsPerSec: 300, P50Ms: 1, Tally: Tally{OK: 9, Lost: 1}},
		{MsgsPerSec: 200, P50Ms: 2, Tally: Tally{OK: 10, Duplicates: 2}},
	}
	m := Median(runs)
	if m.MsgsPerSec != 200 || m.P50Ms != 2 || m.OK != 10 {
		t.Errorf("median %+v", m)
	}
	if m.Lost != 1 || m.Duplicates != 2 {
		t.Errorf("losses and duplicates of the worst run expected, got lost=%d dup=%d", m.Lost, m.Duplicates)
	}
	if even := Median(runs[:2]); even.MsgsPerSec != 200 {
		t.Errorf("even median %v", even.MsgsPerSec)
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	err := WriteTable(&b, []BenchResult{
		{Mode: "connector", Load: "window", Window: 6, Action: "fetchPatient", N: 10, Prefetch: 1, Workers: 2, Quorum: true,
			MsgsPerSec: 1234.4, P50Ms: 1.25, PeakRSSMB: 19.25, CPUMsPerMsg: 0.1234, HarnessCPUMs: 0.4567, FirstOutputMs: 41},
		{Mode: "broker", Load: "window", Action: "relay", N: 10, Prefetch: 64, Workers: 1},
		{Mode: "connector", Load: "prefill", Action: "fetchPatient", N: 10, Prefetch: 10, Workers: 1,
			MsgsPerSec: 2500, P50Ms: 900, P95Ms: 1500, P99Ms: 1600, PeakRSSMB: 20, CPUMsPerMsg: 0.2, FirstOutputMs: 55},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("table:\n%s", b.String())
	}
	header := strings.Count(lines[0], "|")
	for i, l := range lines {
		if n := strings.Count(l, "|"); n != header {
			t.Errorf("line %d has %d separators, the header %d: %q", i, n, header, l)
		}
	}
	for _, want := range []string{"| connector | window 6 | fetchPatient | 10 | 1 | 2 | quorum |", "| 1234 | 1.2 |", "| 19.2 | 0.123 | 0.457 | 41 |"} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("row %q lacks %q", lines[2], want)
		}
	}
	if !strings.Contains(lines[3], "| – | – | 0.000 | – |") {
		t.Errorf("broker row %q should leave the worker columns empty", lines[3])
	}
	if !strings.Contains(lines[4], "| prefill |") || !strings.Contains(lines[4], "| 2500 | – | – | – | 20.0 | 0.200 |") || !strings.Contains(lines[4], "| 55 |") {
		t.Errorf("prefill row %q should show the drain rate, no latencies and the worker columns", lines[4])
	}
}

func TestMedianOfHarnessCPU(t *testing.T) {
	m := Median([]BenchResult{{HarnessCPUMs: 0.3}, {HarnessCPUMs: 0.1}, {HarnessCPUMs: 0.2}})
	if m.HarnessCPUMs != 0.2 {
		t.Errorf("harness CPU median %v", m.HarnessCPUMs)
	}
}

func TestOnNodeSpreadsWorkers(t *testing.T) {
	env := map[string]string{"ELASTICIO_AMQP_URI": "one", "X": "x"}
	nodes := []string{"n1", "n2", "n3"}
	for i, want := range []string{"n1", "n2", "n3", "n1"} {
		if got := onNode(env, nodes, i); got["ELASTICIO_AMQP_URI"] != want || got["X"] != "x" {
			t.Errorf("worker %d: %v, want %s", i, got, want)
		}
	}
	if env["ELASTICIO_AMQP_URI"] != "one" || onNode(env, nil, 1)["ELASTICIO_AMQP_URI"] != "one" {
		t.Error("onNode changed the environment, or moved a worker without nodes")
	}
	if got := onNode(map[string]string{"LOADBENCH_AMQP_URL": "one"}, nodes, 1); got["LOADBENCH_AMQP_URL"] != "n2" || got["ELASTICIO_AMQP_URI"] != "" {
		t.Errorf("relay process: %v", got)
	}
}
