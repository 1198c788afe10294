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
		{Mode: "connector", Action: "fetchPatient", N: 10, Prefetch: 1, Workers: 2, Quorum: true, MsgsPerSec: 1234.4, PeakRSSMB: 19.25, CPUMsPerMsg: 0.1234},
		{Mode: "broker", Action: "relay", N: 10, Prefetch: 64, Workers: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("table:\n%s", b.String())
	}
	for _, want := range []string{"| connector | fetchPatient | 10 | 1 | 2 | quorum |", "| 1234 |", "| 19.2 | 0.123 |"} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("row %q lacks %q", lines[2], want)
		}
	}
	if !strings.Contains(lines[3], "| – | – | – |") {
		t.Errorf("broker row %q should leave the worker columns empty", lines[3])
	}
}
