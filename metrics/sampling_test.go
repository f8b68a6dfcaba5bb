package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trace-exporter/trace-exporter/plugin/sampling"
)

func TestSamplingCounters(t *testing.T) {
	var s sampling.Stats
	s.RemotePolls.Add(7)
	s.RemotePollFailures.Add(2)
	s.RateLimited.Add(5)
	s.LogPhaseKept.Add(3)
	s.LogPhaseDropped.Add(1)
	reg := prometheus.NewRegistry()
	reg.MustRegister(newSamplingCollector(&s))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		got[f.GetName()] = f.GetMetric()[0].GetCounter().GetValue()
	}
	want := map[string]float64{
		"trace_exporter_sampling_remote_polls_total":         7,
		"trace_exporter_sampling_remote_poll_failures_total": 2,
		"trace_exporter_sampling_rate_limited_total":         5,
		"trace_exporter_sampling_log_phase_kept_total":       3,
		"trace_exporter_sampling_log_phase_dropped_total":    1,
	}
	if len(got) != len(want) {
		t.Errorf("metrics %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
