package triggers

import (
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/sandbox"
)

// BenchmarkMetricsPoll measures one poll of the metrics trigger over an
// organisation of 10,000 patients (three metrics each), the sandbox serving
// in the same process without a network: the first poll (no snapshot), a
// poll with nothing new, and one after 100 new metrics for 100 patients.
// It reports the requests a poll sends and the snapshot's size.
func BenchmarkMetricsPoll(b *testing.B) {
	e := newEnvWith(b, sandbox.Options{Seed: 11, Patients: 10_000, NoValidation: true})
	e.cfg[FieldPageSize] = "100"
	e.direct = true
	e.clients = e.newClients()
	trig := metricsAt(e)
	pids := e.sb.Seeded().PatientIDs
	e.clk.Advance(time.Minute)
	if _, err := e.poll(trig, 0); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		fresh bool
		add   int
	}{{"first", true, 0}, {"quiet", false, 0}, {"new=100", false, 100}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			requests, n := 0, 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if c.fresh {
					e.snapshot = nil
				}
				for j := range c.add {
					e.addMetric(pids[(n*c.add+j)*7919%len(pids)], "weight", e.clk.Now())
				}
				n++
				e.clk.Advance(time.Minute)
				e.gate.gets()
				e.emitted, e.bodies = nil, nil
				b.StartTimer()
				got, err := e.poll(trig, 0)
				b.StopTimer()
				if err != nil || len(got) != c.add {
					b.Fatalf("poll: %d emitted, want %d: %v", len(got), c.add, err)
				}
				requests += e.gate.gets()
				b.StartTimer()
			}
			b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
			b.ReportMetric(float64(len(e.snapshot)), "snapshot-bytes")
		})
	}
}
