package bench

import (
	"strings"
	"testing"
)

// BenchmarkLogPathAccessLogs measures what access logs add to the log
// path, side by side: a sampled request becomes its spans without and with
// its access log record (spans, spans+access-log), an unsampled one is
// parsed and dropped without, or becomes its record alone with access logs
// (unsampled, unsampled+access-log). Both pipelines are OTLP/HTTP to a
// local sink that discards. The serialize call an unsampled request then
// also costs (the small probe is off) is the PDK budget's, not in here.
func BenchmarkLogPathAccessLogs(b *testing.B) {
	sink := newDiscardSink(b)
	logs := `,"access_logs":{"endpoint":"` + sink.srv.URL + `/v1/logs"}`
	for _, p := range payloads(b) {
		// The same request, told "not sampled" by the access phase.
		unsampled := strings.Replace(p.text, ";"+benchParentID+";01;", ";"+benchParentID+";00;", 1)
		if unsampled == p.text {
			b.Fatal("no hand-off flags to clear in the payload")
		}
		b.Run(p.name, func(b *testing.B) {
			for _, v := range []struct{ name, config, text string }{
				{"spans", "", p.text},
				{"spans+access-log", logs, p.text},
				{"unsampled", "", unsampled},
				{"unsampled+access-log", logs, unsampled},
			} {
				b.Run(v.name, func(b *testing.B) { benchAccessLogPath(b, sink, v.config, v.text) })
			}
		})
	}
}

func benchAccessLogPath(b *testing.B, sink *discardSink, extra, text string) {
	p, env := newPluginInstance(b, `{"traces_endpoint":"`+sink.tracesURL()+`","tail_sampling":{"status_code_min":0}`+extra+`}`)
	stats := env.Stats
	requests, built := stats.Unsampled.Load()+stats.SpansBuilt.Load(), stats.AccessLogs.Built.Load()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		p.LogPayload(text)
	}
	b.StopTimer()
	if stats.Unsampled.Load()+stats.SpansBuilt.Load() == requests || (extra != "") != (stats.AccessLogs.Built.Load() > built) {
		b.Fatal("the payload was not handled as the variant says")
	}
	b.ReportMetric(float64(stats.AccessLogs.QueueRejected.Load()+stats.QueueRejected.Load())/float64(b.N), "rejected/op")
}
