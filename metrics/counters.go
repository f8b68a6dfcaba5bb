package metrics

import "github.com/prometheus/client_golang/prometheus"

// counterCollector exposes unlabelled counters read from a stats struct S
// at scrape time; the access log and sampling collectors are two of them.
type counterCollector[S any] struct {
	stats   *S
	metrics []statCounter[S]
}

type statCounter[S any] struct {
	desc  *prometheus.Desc
	value func(*S) float64
}

func (c *counterCollector[S]) add(name, help string, value func(*S) float64) {
	c.metrics = append(c.metrics, statCounter[S]{prometheus.NewDesc(name, help, nil, nil), value})
}

func (c *counterCollector[S]) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

func (c *counterCollector[S]) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, m.value(c.stats))
	}
}
