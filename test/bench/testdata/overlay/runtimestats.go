package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"runtime/metrics"
)

// The counters served, by runtime/metrics name.
var benchRuntimeStats = []string{
	"/sched/latencies:seconds", // a histogram: its count is the sampled goroutine wakeups
	"/sched/goroutines-created:goroutines",
	"/gc/heap/allocs:objects",
	"/gc/heap/tiny/allocs:objects",
	"/gc/heap/allocs:bytes",
	"/gc/cycles/total:gc-cycles",
}

func init() {
	path := os.Getenv("BENCH_RUNTIME_STATS")
	if path == "" {
		return
	}
	_ = os.Remove(path) // left by the -dump run before this one
	l, err := net.Listen("unix", path)
	if err != nil {
		panic(err)
	}
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		samples := make([]metrics.Sample, len(benchRuntimeStats))
		for i, name := range benchRuntimeStats {
			samples[i].Name = name
		}
		metrics.Read(samples)
		out := map[string]float64{}
		for _, s := range samples {
			switch s.Value.Kind() {
			case metrics.KindUint64:
				out[s.Name] = float64(s.Value.Uint64())
			case metrics.KindFloat64Histogram:
				var n uint64
				for _, c := range s.Value.Float64Histogram().Counts {
					n += c
				}
				out[s.Name] = float64(n)
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
}
