package metrics

import (
	"reflect"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin"
)

func TestAccessLogCounters(t *testing.T) {
	var s plugin.AccessLogStats
	s.Built.Add(7)
	s.SampledOut.Add(5)
	s.QueueRejected.Add(2)
	s.Processors.Dropped.Add(3)
	s.Processors.Panics.Add(1)
	reg := prometheus.NewRegistry()
	reg.MustRegister(newAccessLogCollector(&s))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		got[f.GetName()] = f.GetMetric()[0].GetCounter().GetValue()
	}
	want := map[string]float64{
		"trace_exporter_access_logs_built_total":             7,
		"trace_exporter_access_logs_sampled_out_total":       5,
		"trace_exporter_access_logs_queue_rejected_total":    2,
		"trace_exporter_access_logs_processor_dropped_total": 3,
		"trace_exporter_access_logs_processor_panics_total":  1,
	}
	// Every counter is one of these: a field added without a metric fails.
	// (AccessLogStats: its counters and Processors; LogProcessorStats: two
	// counters and the panic log.)
	n := reflect.TypeFor[plugin.AccessLogStats]().NumField() - 1 + reflect.TypeFor[exporter.LogProcessorStats]().NumField() - 2
	if n != len(want) || len(got) != len(want) {
		t.Errorf("metrics %v, want %v (%d counters)", got, want, n)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
