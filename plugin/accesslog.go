package plugin

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/plugin/sampling"
	"github.com/trace-exporter/trace-exporter/schema"
)

// accessLogger writes an instance's access log: one OTLP log record per
// request the instance sees, sampled or not, built from the same parsed
// entry as the spans, with the root span's attributes, redaction and
// limits, its trace id and root span id, and its resource.
type accessLogger struct {
	pipe  *exporter.LogHandle
	procs *exporter.LogProcessors // nil: no log processor applies
	// ratio is access_logs.sampling_rate, decided from the trace id's
	// randomness as head sampling is: a trace kept at a rate is logged at
	// every rate from it up.
	ratio sampling.Ratio
	// The headers the log processors asked for: the parser may keep more
	// (the span processors', the templates').
	requestHeaders, responseHeaders []string
}

// AccessLogStats counts what the instances' access logs did.
type AccessLogStats struct {
	Built         atomic.Int64 // records built and handed to the logs pipeline
	SampledOut    atomic.Int64 // requests access_logs.sampling_rate left without a record
	QueueRejected atomic.Int64 // records the logs pipeline refused (it counts why)
	Processors    exporter.LogProcessorStats
}

// startAccessLogs gives the instance its access log when its config asks
// for one: the logs pipeline of the destination the config resolved, the
// log processors, and the headers they read added to what the parser
// keeps. It also says, once per instance, what becomes of logs_endpoint.
func (rt *runtime) startAccessLogs() error {
	cfg := rt.cfg
	dest := cfg.AccessLogsDestination()
	field := cfg.AccessLogsEndpointField()
	switch {
	case field == "logs_endpoint":
		slog.Warn("logs_endpoint is set: Kong's runtime logs never reach an external plugin, so this plugin sends "+
			"its access log records there instead, one per request (set access_logs.endpoint to say so)", "field", field)
	case cfg.LogsEndpoint != "":
		slog.Warn("logs_endpoint is set, but Kong's runtime logs never reach an external plugin: nothing is exported there; "+
			"access log records go to "+field, "field", "logs_endpoint")
	}
	if dest == nil {
		return nil
	}
	if cfg.AccessLogs.SamplingRate <= 0 {
		// No record would be written: the request path stays as without.
		slog.Info("access logs off: access_logs.sampling_rate is 0")
		return nil
	}
	// The pipeline's resource is what every record's resource has (the
	// environment's and the static attributes); records carry their own.
	shared := *dest
	shared.ResourceAttributes = rt.resources.pipelineAttributes()
	pipe, err := rt.env.Pipelines.AcquireLogs(&shared)
	if err != nil {
		return fmt.Errorf("access logs: %w", renameDestinationField(err, cfg))
	}
	procs, err := exporter.NewLogProcessors(cfg, &rt.stats.AccessLogs.Processors)
	if err != nil {
		return err
	}
	l := &accessLogger{pipe: pipe, procs: procs, ratio: sampling.NewRatio(cfg.AccessLogs.SamplingRate)}
	if procs != nil {
		l.requestHeaders, l.responseHeaders = procs.Headers()
		rt.keepHeaders(l.requestHeaders, l.responseHeaders)
	}
	rt.accessLog = l
	slog.Info("access logs on", "destination", pipe.Name(), "sampling_rate", cfg.AccessLogs.SamplingRate)
	return nil
}

// renameDestinationField names, in a backend's refusal of the access log
// destination, the field the user wrote: the backend read the copy's
// traces_endpoint, file_path or kafka.topic.
func renameDestinationField(err error, cfg *schema.Config) error {
	var fe *schema.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := fe.Field
	switch {
	case field == "traces_endpoint" || field == "endpoint":
		if f := cfg.AccessLogsEndpointField(); f != "" {
			field = f
		} else {
			field = "access_logs.endpoint"
		}
	case field == "file_path" && cfg.AccessLogs.FilePath != "":
		field = "access_logs.file_path"
	case field == "kafka.topic":
		field = "kafka.logs_topic"
	}
	if field == fe.Field {
		return err
	}
	return &schema.FieldError{Field: field, Reason: fe.Reason}
}

// keepHeaders makes the parser keep these headers too. The span processors
// then get exactly the request headers they asked for (procHeaders);
// response headers are few and never credentials.
func (rt *runtime) keepHeaders(request, response []string) {
	added := false
	for _, h := range request {
		if !slices.Contains(rt.wants.captureRequest, h) {
			if !added && rt.procs != nil && rt.procHeaders == nil {
				spanHeaders, _ := rt.procs.Headers()
				rt.procHeaders = append([]string{}, spanHeaders...) // non-nil: none is none
			}
			added = true
			// Clipped, so append copies: the slice may be a processor chain's own.
			rt.wants.captureRequest = append(slices.Clip(rt.wants.captureRequest), h)
		}
	}
	for _, h := range response {
		if !slices.Contains(rt.wants.captureResponse, h) {
			rt.wants.captureResponse = append(slices.Clip(rt.wants.captureResponse), h)
		}
	}
}

// logAccess writes the request's access log record, when the instance has
// an access log. ids carry the flags of what was exported (sampled, or
// kept by a tail rule). res is the request's resource when its spans were
// built; nil makes it here (with the calls its templates need).
func (rt *runtime) logAccess(e *logEntry, ids *traceIDs, res *exporter.Resource, k kongCaller, a *arena) {
	rt.logAccessWith(e, ids, res, k, a, nil)
}

// logAccessWith is logAccess for a request whose root span was built (before
// the sampler tag and span processors change it): the record carries its
// attributes instead of building them again.
func (rt *runtime) logAccessWith(e *logEntry, ids *traceIDs, res *exporter.Resource, k kongCaller, a *arena, root *exporter.Span) {
	l := rt.accessLog
	if l == nil {
		return
	}
	if !l.ratio.Always() && !l.ratio.Keeps(sampling.RandomnessOf(ids.trace)) {
		rt.stats.AccessLogs.SampledOut.Add(1)
		return
	}
	if res == nil {
		res = rt.resourceFor(e, k)
	}
	var one [1]exporter.LogRecord
	rec := &one[0]
	*rec = buildAccessRecord(e, ids, root, &rt.spanOpts, a, time.Now())
	rec.Resource = res
	if l.procs != nil {
		req := exporter.Request{
			RequestHeaders:  toHeaders(e.capturedRequest, l.requestHeaders),
			ResponseHeaders: toHeaders(e.capturedResponse, l.responseHeaders),
		}
		if !l.procs.Process(rec, &req) {
			return // dropped by a processor (counted there)
		}
		rec.Attributes = limitAttrs(rec.Attributes, &rec.DroppedAttributes, &rt.spanOpts)
		rec.Body = fixString(rec.Body, rt.spanOpts.maxValueLen)
	}
	rt.stats.AccessLogs.Built.Add(1)
	if !l.pipe.Enqueue(one[:]) {
		rt.stats.AccessLogs.QueueRejected.Add(1)
	}
}

// OTLP severities of access log records, from the response status.
func accessSeverity(status int) (exporter.SeverityNumber, string) {
	switch {
	case status >= 500:
		return exporter.SeverityError, "ERROR"
	case status >= 400:
		return exporter.SeverityWarn, "WARN"
	}
	return exporter.SeverityInfo, "INFO"
}

// The most attributes buildAccessRecord adds to the root span's, besides
// the tries' (accessTryAttrs each): the stack array they are gathered in
// is sized from them (more still works, at the cost of an allocation).
const (
	maxAccessAttrs = 12
	accessTryAttrs = 5
)

// buildAccessRecord is the access log record of one request: its time is
// the request's start, observed now; its severity comes from the status;
// its body is a short line ("GET /echo/items 200 12ms", no query); it
// carries the request's trace id and root span id, sampled or not, and the
// trace flags that say whether its spans were exported. Its attributes are
// the root span's, then, for what Kong 3.14's access logs name otherwise or
// only they have, Kong's names (dropped first by max_attributes).
//
// root, when not nil, is the request's root span as built: its attributes
// are the list built here, already cut by the same max_attributes and value
// limits (cutting again after Kong's names gives the same list, and its
// drop count adds up to the same total), so they are taken, not rebuilt.
func buildAccessRecord(e *logEntry, ids *traceIDs, root *exporter.Span, o *spanOptions, a *arena, now time.Time) exporter.LogRecord {
	r := newRequestFacts(e, o, a)
	var scratch [maxRootAttrs + maxAccessAttrs + 3*accessTryAttrs]exporter.Attribute
	var dropped uint32
	attrs := scratch[:0]
	if root != nil {
		attrs, dropped = append(attrs, root.Attributes...), root.DroppedAttributes
	} else {
		attrs = appendRootAttributes(attrs, e, &r, o, a)
	}
	attrs = appendKongAccessAttributes(attrs, e, &r, o, a)
	rec := exporter.LogRecord{
		DroppedAttributes:    dropped,
		TimeUnixNano:         r.rootStart,
		ObservedTimeUnixNano: uint64(now.UnixNano()),
		Body:                 fixString(accessBody(e, a), o.maxValueLen),
		Attributes:           slices.Clone(attrs),
		Flags:                uint32(ids.flags),
		TraceID:              ids.trace,
		SpanID:               ids.root,
	}
	rec.SeverityNumber, rec.SeverityText = accessSeverity(e.status)
	rec.Attributes = limitAttrs(rec.Attributes, &rec.DroppedAttributes, o)
	return rec
}

// accessBody is "METHOD /path STATUS LATENCYms", as Kong's access log
// records say it; the query is left out (it may hold secrets).
func accessBody(e *logEntry, a *arena) string {
	path, _ := splitQuery(e.uri)
	method := e.method
	if method == "" {
		method = "-"
	}
	var buf [32]byte
	tail := append(buf[:0], ' ')
	tail = strconv.AppendInt(tail, int64(e.status), 10)
	tail = append(tail, ' ')
	tail = strconv.AppendFloat(tail, max(e.latRequest, 0), 'f', -1, 64)
	tail = append(tail, "ms"...)
	return a.concat(method, " ", path, string(tail))
}

// appendKongAccessAttributes appends Kong 3.14's access log attributes for
// what the root span names otherwise (kong.latency.*, the upstream status
// as a number) or does not carry (log.type, the total latency, the
// client-facing url.full, the upstream URI, the service's address, each
// upstream try), from the same data, queries redacted.
func appendKongAccessAttributes(attrs []exporter.Attribute, e *logEntry, r *requestFacts, o *spanOptions, a *arena) []exporter.Attribute {
	attrs = append(attrs, exporter.String("log.type", "access"))
	if e.url != "" {
		attrs = append(attrs, exporter.String("url.full", redactURL(e.url, o.redactQuery, a)))
	}
	if e.upstreamURI != "" {
		attrs = append(attrs, exporter.String("kong.upstream.uri", redactURL(e.upstreamURI, o.redactQuery, a)))
	}
	if r.lastCode > 0 {
		attrs = append(attrs, exporter.Int("kong.upstream.status_code", int64(r.lastCode)))
	}
	attrs = append(attrs,
		exporter.Float("kong.latency.total", e.latRequest),
		exporter.Float("kong.latency.internal", e.latKong))
	if e.latProxy >= 0 {
		attrs = append(attrs, exporter.Float("kong.latency.upstream", e.latProxy))
	}
	if e.hasReceive {
		attrs = append(attrs, exporter.Float("kong.latency.receive", e.latReceive))
	}
	attrs = appendNonEmpty(attrs, "kong.service.host", e.serviceHost)
	if e.servicePort > 0 {
		attrs = append(attrs, exporter.Int("kong.service.port", int64(e.servicePort)))
	}
	attrs = appendNonEmpty(attrs, "kong.service.protocol", e.serviceProtocol)
	attrs = appendNonEmpty(attrs, "kong.service.path", e.servicePath)
	for i := range e.tries {
		attrs = appendKongTryAttributes(attrs, i+1, &e.tries[i], a)
	}
	return attrs
}

// appendKongTryAttributes flattens balancer try n (from 1) as Kong does:
// kong.upstream.try.<n>.ip, .port, .balancer_latency (ms), .state, .code.
func appendKongTryAttributes(attrs []exporter.Attribute, n int, t *balancerTry, a *arena) []exporter.Attribute {
	keys := tryKeys(n, a)
	if t.ip != "" {
		attrs = append(attrs, exporter.String(keys[0], t.ip))
	}
	if t.port > 0 {
		attrs = append(attrs, exporter.Int(keys[1], int64(t.port)))
	}
	latency := t.latencyMs
	if t.latencyNs > 0 {
		latency = t.latencyNs / 1e6
	}
	attrs = append(attrs, exporter.Float(keys[2], latency))
	if t.state != "" {
		attrs = append(attrs, exporter.String(keys[3], t.state))
	}
	if t.code > 0 {
		attrs = append(attrs, exporter.Int(keys[4], int64(t.code)))
	}
	return attrs
}

var tryKeyNames = [accessTryAttrs]string{"ip", "port", "balancer_latency", "state", "code"}

// commonTryKeys are the keys of the first tries, built once (Kong's
// retries default to 5: 6 tries).
var commonTryKeys = func() (keys [8][accessTryAttrs]string) {
	for n := range keys {
		for i, name := range tryKeyNames {
			keys[n][i] = "kong.upstream.try." + strconv.Itoa(n+1) + "." + name
		}
	}
	return keys
}()

func tryKeys(n int, a *arena) [accessTryAttrs]string {
	if n <= len(commonTryKeys) {
		return commonTryKeys[n-1]
	}
	var keys [accessTryAttrs]string
	for i, name := range tryKeyNames {
		keys[i] = a.concat("kong.upstream.try.", a.itoa(n), ".", name)
	}
	return keys
}

// redactURL redacts the query of a URL or URI (the part after the first
// '?').
func redactURL(u string, names []string, a *arena) string {
	base, query := splitQuery(u)
	if query == "" {
		return u
	}
	if q := redactQuery(query, names, a); q != query {
		return a.concat(base, "?", q)
	}
	return u
}
