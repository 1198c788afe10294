package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestInts(t *testing.T) {
	got, err := ints("1, 2,4")
	if err != nil || !slices.Equal(got, []int{1, 2, 4}) {
		t.Errorf("ints = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "1,x", "-2"} {
		if _, err := ints(bad); err == nil {
			t.Errorf("ints(%q) accepted", bad)
		}
	}
}

func TestRunRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{{"--n", "0"}, {"--prefetch", "a"}, {"--workers", "0"}, {"extra"}, {"--nope"}} {
		var stderr strings.Builder
		if code := run(context.Background(), args, io.Discard, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}

func TestParseOptionsPrefill(t *testing.T) {
	o, prefetches, workers, err := parseOptions([]string{"--prefill", "--prefetch", "1,10", "--workers", "2", "--n", "300"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(prefetches, []int{1, 10}) || !slices.Equal(workers, []int{2}) {
		t.Errorf("prefetches %v, workers %v", prefetches, workers)
	}
	cfg := o.config("amqp://127.0.0.1:5672/", 10, 2)
	if !cfg.Prefill || cfg.BrokerOnly || cfg.N != 300 || cfg.Prefetch != 10 || cfg.Workers != 2 || cfg.AMQPURL != "amqp://127.0.0.1:5672/" {
		t.Errorf("config %+v", cfg)
	}
	o, _, _, err = parseOptions([]string{"--worker-env", "GOGC=200", "--worker-env", "GOMEMLIMIT=20MiB"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := o.config("u", 1, 1); cfg.Extra["GOGC"] != "200" || cfg.Extra["GOMEMLIMIT"] != "20MiB" || len(cfg.Extra) != 2 {
		t.Errorf("worker env %v", cfg.Extra)
	}
	if _, _, _, err := parseOptions([]string{"--worker-env", "NOVALUE"}, io.Discard); err == nil {
		t.Error("--worker-env without = accepted")
	}
	o, _, _, err = parseOptions([]string{"--broker-only", "--window", "8"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := o.config("u", 1, 1); cfg.Prefill || !cfg.BrokerOnly || cfg.Window != 8 || cfg.N != 2000 || cfg.RelayBinary != "" {
		t.Errorf("default (windowed) config %+v", cfg)
	}
	o, _, _, err = parseOptions([]string{"--broker-only", "--relay-process"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := o.config("u", 1, 1); cfg.RelayBinary == "" {
		t.Error("--relay-process: no relay binary")
	}
	o, _, _, _ = parseOptions([]string{"--relay-process"}, io.Discard)
	if cfg := o.config("u", 1, 1); cfg.RelayBinary != "" {
		t.Error("--relay-process without --broker-only runs a relay")
	}
}

func TestRunHelpExitsZero(t *testing.T) {
	var stderr strings.Builder
	if code := run(context.Background(), []string{"-h"}, io.Discard, &stderr); code != 0 || !strings.Contains(stderr.String(), "-prefill") {
		t.Errorf("help: exit %d, usage %q", code, stderr.String())
	}
}

func TestParseOptionsCluster(t *testing.T) {
	o, _, _, err := parseOptions([]string{"--cluster", "--api-latency", "0, 50ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.latencies, []time.Duration{0, 50 * time.Millisecond}) {
		t.Errorf("latencies %v", o.latencies)
	}
	if cfg := o.config("", 10, 2); cfg.Replicas != 3 || cfg.APILatency != 0 || cfg.AMQPURL != "" {
		t.Errorf("cluster config %+v", cfg)
	}
	o, _, _, err = parseOptions([]string{"--api-latency", "20ms"}, io.Discard)
	if err != nil || !slices.Equal(o.latencies, []time.Duration{20 * time.Millisecond}) {
		t.Errorf("one latency: %v, %v", o.latencies, err)
	}
	if cfg := o.config("u", 1, 1); cfg.Replicas != 0 || cfg.APILatency != 20*time.Millisecond {
		t.Errorf("config without --cluster %+v", cfg)
	}
	for _, bad := range [][]string{{"--cluster", "--with-relay"}, {"--cluster", "--broker-only"}, {"--api-latency", "fast"}, {"--api-latency", "-1s"}} {
		if _, _, _, err := parseOptions(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
