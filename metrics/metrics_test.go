package metrics

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin"
	"github.com/trace-exporter/trace-exporter/schema"
)

func TestListenAddress(t *testing.T) {
	for in, want := range map[string]string{
		"9464":           "127.0.0.1:9464",
		":9464":          "127.0.0.1:9464",
		" 9464 ":         "127.0.0.1:9464",
		"0.0.0.0:9464":   "0.0.0.0:9464",
		"[::]:9464":      "[::]:9464",
		"10.0.0.5:9464":  "10.0.0.5:9464",
		"localhost:9464": "localhost:9464",
	} {
		if got, err := ListenAddress(in); err != nil || got != want {
			t.Errorf("ListenAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abc", "1:2:3", "host:99999"} {
		if _, err := ListenAddress(bad); err == nil {
			t.Errorf("ListenAddress(%q) accepted", bad)
		}
	}
}

func testConfig(endpoint string) *schema.Config {
	c := schema.Defaults()
	c.TracesEndpoint = endpoint
	c.Queue.MaxCoalescingDelay = 0.01
	c.Queue.InitialRetryDelay = 0.01
	c.Queue.MaxRetryDelay = 0.05
	c.Queue.MaxRetryTime = 5
	return &c
}

func testSpans(n int) []exporter.Span {
	spans := make([]exporter.Span, n)
	for i := range spans {
		spans[i] = exporter.Span{
			TraceID: exporter.TraceID{1, byte(i + 1)}, SpanID: exporter.SpanID{1, byte(i + 1)},
			Name: "GET /", Kind: exporter.KindServer, StartUnixNano: 1, EndUnixNano: 2,
		}
	}
	return spans
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// scrape fetches /metrics over HTTP and parses the text format.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s\n%s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape is not the Prometheus text format: %v", err)
	}
	return families
}

// metric finds the sample of family name whose labels include want.
func metric(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := families[name]
	if !ok {
		t.Fatalf("metric %s not exposed", name)
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s sample with labels %v", name, want)
	return nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}

// A run with forced retries and forced drops, then a scrape over HTTP:
// /metrics tells what was sent, retried and lost, per pipeline and reason.
func TestScrapeAfterRetriesAndDrops(t *testing.T) {
	release := make(chan struct{})
	var attempts atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch attempts.Add(1) {
		case 1:
			<-release // hold the first attempt until the test has overfilled the queue
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer flaky.Close()
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "bad request", http.StatusBadRequest)
	}))
	defer refusing.Close()

	reg := exporter.NewRegistry(exporter.RegistryOptions{})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = reg.ShutdownAll(ctx)
	}()
	flakyCfg := testConfig(flaky.URL + "/v1/traces")
	flakyCfg.Queue.MaxEntries = 5
	flakyCfg.Headers = map[string]string{"Authorization": "Bearer s3cret"}
	hFlaky, err := reg.Acquire(flakyCfg)
	if err != nil {
		t.Fatal(err)
	}
	hRefusing, err := reg.Acquire(testConfig(refusing.URL + "/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}

	hFlaky.Enqueue(testSpans(5))
	waitFor(t, "first attempt in flight", func() bool { return attempts.Load() == 1 })
	for range 3 {
		if hFlaky.Enqueue(testSpans(1)) {
			t.Fatal("a full queue accepted a span")
		}
	}
	time.Sleep(30 * time.Millisecond) // the first attempt lasts at least this long
	close(release)
	waitFor(t, "flaky pipeline delivered", func() bool { return hFlaky.Stats().Exported == 5 })
	hRefusing.Enqueue(testSpans(4))
	waitFor(t, "refused batch dropped", func() bool { return hRefusing.Stats().DroppedTotal() == 4 })

	var counters plugin.Stats
	counters.Requests.Store(12)
	counters.SpansBuilt.Store(20)
	counters.Unsampled.Store(3)
	counters.PayloadStream.Store(2)
	env := plugin.NewEnv(reg)
	env.Stats = &counters
	c := NewCollector(env)
	srv := Start("127.0.0.1:0", NewRegistry(c), slog.New(slog.DiscardHandler))
	defer srv.Close()
	select {
	case <-srv.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("metrics server not listening")
	}
	families := scrape(t, srv.Addr())

	var flakyID, refusingID string
	for _, p := range reg.Stats() {
		if strings.Contains(p.Name, flaky.Listener.Addr().String()) {
			flakyID = p.ID
			if strings.Contains(p.Name, "s3cret") {
				t.Errorf("backend label leaks a header: %s", p.Name)
			}
		} else {
			refusingID = p.ID
		}
	}
	flakyLabels := map[string]string{"pipeline": flakyID}
	for name, want := range map[string]float64{
		"trace_exporter_pipeline_spans_enqueued_total": 5,
		"trace_exporter_pipeline_spans_exported_total": 5,
		"trace_exporter_pipeline_export_retries_total": 2,
		"trace_exporter_pipeline_queue_spans":          0,
		"trace_exporter_pipeline_queue_bytes":          0,
	} {
		if got := value(metric(t, families, name, flakyLabels)); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := value(metric(t, families, "trace_exporter_pipeline_spans_dropped_total", map[string]string{"pipeline": flakyID, "reason": "queue_full_entries"})); got != 3 {
		t.Errorf("queue_full_entries drops = %v, want 3", got)
	}
	if got := value(metric(t, families, "trace_exporter_pipeline_batches_total", map[string]string{"pipeline": flakyID, "result": "exported"})); got != 1 {
		t.Errorf("exported batches = %v", got)
	}
	if got := value(metric(t, families, "trace_exporter_pipeline_spans_dropped_total", map[string]string{"pipeline": refusingID, "reason": "permanent_error"})); got != 4 {
		t.Errorf("permanent_error drops = %v, want 4", got)
	}
	if got := value(metric(t, families, "trace_exporter_pipeline_batches_total", map[string]string{"pipeline": refusingID, "result": "failed"})); got != 1 {
		t.Errorf("failed batches = %v", got)
	}
	// Every reason is listed, zeros included, so rate() works from the start.
	if n := len(families["trace_exporter_pipeline_spans_dropped_total"].Metric); n != 2*len(exporter.DropReasons()) {
		t.Errorf("%d dropped series, want every reason for both pipelines", n)
	}
	// Histograms: three attempts of 5 spans, each timed; the first was
	// held 30 ms.
	batch := metric(t, families, "trace_exporter_pipeline_export_batch_spans", flakyLabels).Histogram
	if batch.GetSampleCount() != 3 || batch.GetSampleSum() != 15 {
		t.Errorf("batch size histogram: count %d sum %v", batch.GetSampleCount(), batch.GetSampleSum())
	}
	latency := metric(t, families, "trace_exporter_pipeline_export_duration_seconds", flakyLabels).Histogram
	if latency.GetSampleCount() != 3 || latency.GetSampleSum() < 0.03 {
		t.Errorf("latency histogram: %v", latency)
	}
	for _, b := range latency.Bucket {
		if b.GetUpperBound() == 0.025 && b.GetCumulativeCount() > 2 {
			t.Errorf("the 30 ms attempt is counted under 25 ms: %v", latency)
		}
	}
	for name, want := range map[string]float64{
		"trace_exporter_requests_total":           12,
		"trace_exporter_spans_built_total":        20,
		"trace_exporter_requests_unsampled_total": 3,
		"trace_exporter_processor_panics_total":   0,
		"trace_exporter_build_info":               1,
	} {
		if got := value(metric(t, families, name, nil)); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := value(metric(t, families, "trace_exporter_payload_errors_total", map[string]string{"reason": "stream"})); got != 2 {
		t.Errorf("stream payloads = %v", got)
	}
	if _, ok := families["go_goroutines"]; !ok {
		t.Errorf("Go runtime metrics missing")
	}
}

// Every counter the handlers keep is exposed: a field added to
// plugin.Stats without a metric fails here.
func TestEveryPluginCounterIsExposed(t *testing.T) {
	var counters plugin.Stats
	v := reflect.ValueOf(&counters).Elem()
	want := map[float64]string{}
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).Name == "AccessLogs" {
			continue // its own collector (TestAccessLogCounters)
		}
		n := float64(1000 + i)
		v.Field(i).Addr().Interface().(*atomic.Int64).Store(int64(n))
		want[n] = v.Type().Field(i).Name
	}
	c := newCollector(func() []exporter.PipelineStats { return nil }, exporter.DefaultRegistry.Histograms, &counters)
	seen := map[float64]bool{}
	for _, p := range c.plugin {
		seen[float64(p.value(&counters).Load())] = true
	}
	for n, field := range want {
		if !seen[n] {
			t.Errorf("plugin.Stats.%s has no metric", field)
		}
	}
}

// Every pipeline statistic is exposed: a field added to exporter.Stats
// must be added to the collector (and to this list).
func TestEveryPipelineStatIsExposed(t *testing.T) {
	exposed := map[string]string{
		"Enqueued": "spans_enqueued_total", "Exported": "spans_exported_total", "Dropped": "spans_dropped_total",
		"Batches": "batches_total", "FailedBatches": "batches_total", "Retries": "export_retries_total",
		"QueueSpans": "queue_spans", "QueueBytes": "queue_bytes", "Spooled": "spool_spans_written_total",
		"Replayed": "spool_spans_replayed_total", "SpoolCorrupt": "spool_records_corrupt_total",
		"SpoolSpans": "spool_spans", "SpoolBytes": "spool_bytes", "SpoolOpen": "spool_open",
		"CircuitOpen": "circuit_open", "Panics": "exporter_panics_total",
	}
	var s exporter.Stats
	st := reflect.TypeOf(s)
	v := reflect.ValueOf(&s).Elem()
	for i := 0; i < st.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Uint64:
			f.SetUint(uint64(100 + i))
		case reflect.Int64:
			f.SetInt(int64(100 + i))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Array:
			for k := 0; k < f.Len(); k++ {
				f.Index(k).SetUint(uint64(500 + k))
			}
		}
	}
	c := newCollector(func() []exporter.PipelineStats {
		return []exporter.PipelineStats{{ID: "abc", Name: "otlp x", Stats: s}}
	},
		func(string) (exporter.ExportHistograms, bool) { return exporter.ExportHistograms{}, false }, &plugin.Stats{})
	reg := NewRegistry(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	for i := 0; i < st.NumField(); i++ {
		field := st.Field(i)
		name, ok := exposed[field.Name]
		if !ok {
			t.Errorf("exporter.Stats.%s is not exposed as a metric", field.Name)
			continue
		}
		f, ok := byName["trace_exporter_pipeline_"+name]
		if !ok {
			t.Errorf("%s: metric %s missing", field.Name, name)
			continue
		}
		want := float64(100 + i)
		switch field.Type.Kind() {
		case reflect.Bool:
			want = 1
		case reflect.Array:
			want = 500 // the first reason
		}
		found := false
		for _, m := range f.Metric {
			if value(m) == want {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no sample of %s has value %v", field.Name, name, want)
		}
	}
}

// After a kong reload the previous plugin server may still hold the port
// while it flushes: the new one keeps trying and serves once it is free.
func TestServerWaitsForABusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := busy.Addr().String()
	srv := Start(addr, NewRegistry(newCollector(func() []exporter.PipelineStats { return nil }, exporter.DefaultRegistry.Histograms, &plugin.Stats{})), slog.New(slog.DiscardHandler))
	defer srv.Close()
	select {
	case <-srv.Ready():
		t.Fatal("listening on a busy port")
	case <-time.After(200 * time.Millisecond):
	}
	busy.Close()
	select {
	case <-srv.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("not listening after the port was freed")
	}
	if f := scrape(t, addr); f["trace_exporter_build_info"] == nil {
		t.Errorf("no build info in %d families", len(f))
	}
	// Close stops a server still waiting for its port, too.
	busy2, _ := net.Listen("tcp", "127.0.0.1:0")
	defer busy2.Close()
	waiting := Start(busy2.Addr().String(), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err := waiting.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
