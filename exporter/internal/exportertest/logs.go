package exportertest

import (
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// RichLogBatch covers every field of a log record the encoders handle:
// access-log-like records with and without trace context, severities,
// strings that need repair, a record with its own resource.
func RichLogBatch() *exporter.LogBatch {
	spans := RichBatch()
	own := &exporter.Resource{Attributes: []exporter.Attribute{exporter.String("service.name", "tenant-a")}, SchemaURL: exporter.SchemaURL}
	return &exporter.LogBatch{
		Resource: spans.Resource,
		Scope:    exporter.NewScope(),
		Records: []exporter.LogRecord{
			{
				TimeUnixNano: 1_700_000_000_123_000_000, ObservedTimeUnixNano: 1_700_000_000_130_000_001,
				SeverityNumber: exporter.SeverityError, SeverityText: "ERROR",
				Body:       "GET /users/42 503 12ms",
				Attributes: spans.Spans[0].Attributes, DroppedAttributes: 3,
				Flags: 0x01, TraceID: spans.Spans[0].TraceID, SpanID: spans.Spans[0].SpanID,
				EventName: "kong.access",
			},
			{TimeUnixNano: 1_700_000_000_200_000_000, SeverityNumber: exporter.SeverityInfo, SeverityText: "INFO",
				Body: "GET /caf\xc3\xa9/\xff 200 1ms", Resource: own},
			{SeverityNumber: exporter.SeverityWarn},
		},
	}
}

// LogsToOTLP builds the official generated structs for a log batch,
// grouped by resource as the encoders group records.
func LogsToOTLP(b *exporter.LogBatch) *collogspb.ExportLogsServiceRequest {
	var order []*exporter.Resource
	groups := map[*exporter.Resource]*logspb.ScopeLogs{}
	add := func(r *exporter.Resource) *logspb.ScopeLogs {
		sl, ok := groups[r]
		if !ok {
			sl = &logspb.ScopeLogs{
				Scope:     &commonpb.InstrumentationScope{Name: valid(b.Scope.Name), Version: valid(b.Scope.Version)},
				SchemaUrl: valid(b.Scope.SchemaURL),
			}
			groups[r] = sl
			order = append(order, r)
		}
		return sl
	}
	for i := range b.Records {
		r := &b.Records[i]
		sl := add(b.ResourceOf(i))
		out := &logspb.LogRecord{
			TimeUnixNano: r.TimeUnixNano, ObservedTimeUnixNano: r.ObservedTimeUnixNano,
			SeverityNumber: logspb.SeverityNumber(r.SeverityNumber), SeverityText: valid(r.SeverityText),
			Attributes: toOTLPAttributes(r.Attributes), DroppedAttributesCount: r.DroppedAttributes,
			Flags: r.Flags, EventName: valid(r.EventName),
		}
		if r.Body != "" {
			out.Body = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: valid(r.Body)}}
		}
		if r.TraceID.IsValid() {
			out.TraceId = r.TraceID[:]
		}
		if r.SpanID.IsValid() {
			out.SpanId = r.SpanID[:]
		}
		sl.LogRecords = append(sl.LogRecords, out)
	}
	if len(b.Records) == 0 {
		add(b.Resource)
	}
	req := &collogspb.ExportLogsServiceRequest{}
	for _, r := range order {
		rl := &logspb.ResourceLogs{ScopeLogs: []*logspb.ScopeLogs{groups[r]}}
		if r != nil {
			rl.Resource = &resourcepb.Resource{Attributes: toOTLPAttributes(r.Attributes)}
			rl.SchemaUrl = valid(r.SchemaURL)
		}
		req.ResourceLogs = append(req.ResourceLogs, rl)
	}
	return req
}
