// Package reqmetrics aggregates the request metrics of Kong's metrics
// record inside the plugin server: one Aggregator per destination, shared
// by the plugin instances that send there, recording every logged request
// on the log path (lock-free on known attribute sets, counters striped per
// CPU) and pushing OTLP metrics (exporter.Metric) every push interval,
// cumulative or delta, with exemplars that name exported traces. The
// Registry also gives the cumulative view the plugin server's /metrics
// serves. It knows nothing of Kong's payload: the plugin fills a Request.
package reqmetrics
