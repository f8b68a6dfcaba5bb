// Package stdout is the stdout backend (exporter: stdout): spans printed one
// per line (text) or one OTLP/JSON request per batch and line.
package stdout

import (
	"context"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/otlpenc"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
	"github.com/trace-exporter/trace-exporter/schema"
)

func init() {
	exporter.Register(string(schema.ExporterStdout), newExporter,
		exporter.DescribeEndpoint(func(*schema.Config) string { return "stdout" }))
}

// stdout is the process's standard output. Kong logs each line the plugin
// server prints (at level info, prefixed with the plugin name), so a line
// per span is readable in Kong's error log. One lock for the process: lines
// of concurrent pipelines never interleave.
var stdout = struct {
	sync.Mutex
	w io.Writer
}{w: os.Stdout}

// SetWriter points the backend at w instead of the process's standard
// output and returns the function that restores the previous writer: for
// tests and tools that capture what the backend prints.
func SetWriter(w io.Writer) (restore func()) {
	stdout.Lock()
	prev := stdout.w
	stdout.w = w
	stdout.Unlock()
	return func() {
		stdout.Lock()
		stdout.w = prev
		stdout.Unlock()
	}
}

// stdoutExporter prints spans, for trying the plugin out and debugging:
// stdout_format text is one line per span,
//
//	2024-09-19T22:10:39.538Z kong 4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 parent=53995c3f42cd8ad8 server "GET /echo" 5ms status=unset http.request.method=GET url.path=/echo/items ...
//
// (start time, service, trace id, span id, parent or "-", kind, name,
// duration, status, then attributes as key=value, values quoted as JSON
// strings when they hold spaces, quotes, '=' or control characters);
// otlp_json is one OTLP/JSON ExportTraceServiceRequest per batch and line.
type stdoutExporter struct {
	json bool
}

func newExporter(cfg *schema.Config, _ exporter.Settings) (exporter.Exporter, error) {
	return &stdoutExporter{json: cfg.StdoutFormat == schema.StdoutOTLPJSON}, nil
}

func (e *stdoutExporter) Export(_ context.Context, batch exporter.Batch) error {
	out := wire.GetBuffer()
	defer wire.PutBuffer(out)
	if e.json {
		*out = otlpenc.AppendTracesJSON(*out, &batch)
		*out = append(*out, '\n')
	} else {
		var res *exporter.Resource
		service := exporter.DefaultServiceName
		for i := range batch.Spans {
			if r := batch.ResourceOf(i); i == 0 || r != res {
				res, service = r, serviceName(r)
			}
			*out = appendTextSpan(*out, &batch.Spans[i], service)
		}
	}
	return write(*out)
}

// ExportLogs prints log records: one line per record (text: time,
// service, severity, trace and span ids, body, attributes) or one OTLP/JSON
// ExportLogsServiceRequest per batch and line.
func (e *stdoutExporter) ExportLogs(_ context.Context, batch exporter.LogBatch) error {
	out := wire.GetBuffer()
	defer wire.PutBuffer(out)
	if e.json {
		*out = otlpenc.AppendLogsJSON(*out, &batch)
		*out = append(*out, '\n')
	} else {
		var res *exporter.Resource
		service := exporter.DefaultServiceName
		for i := range batch.Records {
			if r := batch.ResourceOf(i); i == 0 || r != res {
				res, service = r, serviceName(r)
			}
			*out = appendTextLog(*out, &batch.Records[i], service)
		}
	}
	return write(*out)
}

// write prints lines under the process-wide lock.
func write(lines []byte) error {
	stdout.Lock()
	_, err := stdout.w.Write(lines)
	stdout.Unlock()
	if err != nil {
		// A closed stdout (Kong gone) will not come back: do not retry.
		return exporter.Permanent(err)
	}
	return nil
}

// appendTextLog writes one log record as one line.
func appendTextLog(b []byte, r *exporter.LogRecord, service string) []byte {
	b = time.Unix(0, int64(r.TimeUnixNano)).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = appendTextValue(b, service)
	b = append(b, ' ')
	if r.SeverityText != "" {
		b = appendTextValue(b, r.SeverityText)
	} else {
		b = strconv.AppendInt(b, int64(r.SeverityNumber), 10)
	}
	b = append(b, " trace="...)
	if r.TraceID.IsValid() {
		b = wire.AppendHex(b, r.TraceID[:])
	} else {
		b = append(b, '-')
	}
	b = append(b, " span="...)
	if r.SpanID.IsValid() {
		b = wire.AppendHex(b, r.SpanID[:])
	} else {
		b = append(b, '-')
	}
	b = append(b, ' ')
	b = wire.AppendJSONString(b, r.Body)
	b = appendTextAttributes(b, r.Attributes)
	return append(b, '\n')
}

func (e *stdoutExporter) Shutdown(context.Context) error { return nil }

// serviceName is a resource's service.name, "kong" without one.
func serviceName(r *exporter.Resource) string {
	if r != nil {
		if v, ok := exporter.FindAttribute(r.Attributes, "service.name"); ok && v.AsString() != "" {
			return v.AsString()
		}
	}
	return exporter.DefaultServiceName
}

// appendTextSpan writes one span as one line.
func appendTextSpan(b []byte, s *exporter.Span, service string) []byte {
	b = time.Unix(0, int64(s.StartUnixNano)).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = appendTextValue(b, service)
	b = append(b, ' ')
	b = wire.AppendHex(b, s.TraceID[:])
	b = append(b, ' ')
	b = wire.AppendHex(b, s.SpanID[:])
	b = append(b, " parent="...)
	if s.ParentSpanID.IsValid() {
		b = wire.AppendHex(b, s.ParentSpanID[:])
	} else {
		b = append(b, '-')
	}
	b = append(b, ' ')
	b = append(b, s.Kind.String()...)
	b = append(b, ' ')
	b = wire.AppendJSONString(b, s.Name)
	b = append(b, ' ')
	var d time.Duration
	if s.EndUnixNano > s.StartUnixNano {
		d = time.Duration(s.EndUnixNano - s.StartUnixNano)
	}
	b = append(b, d.String()...)
	b = append(b, " status="...)
	b = append(b, s.Status.String()...)
	if s.StatusMessage != "" {
		b = append(b, " status_message="...)
		b = wire.AppendJSONString(b, s.StatusMessage)
	}
	b = appendTextAttributes(b, s.Attributes)
	if s.DroppedAttributes > 0 {
		b = append(b, " dropped_attributes="...)
		b = strconv.AppendUint(b, uint64(s.DroppedAttributes), 10)
	}
	for i := range s.Events {
		b = append(b, " event="...)
		b = wire.AppendJSONString(b, s.Events[i].Name)
	}
	return append(b, '\n')
}

// appendTextAttributes writes " key=value" for each attribute.
func appendTextAttributes(b []byte, attrs []exporter.Attribute) []byte {
	for i := range attrs {
		a := &attrs[i]
		b = append(b, ' ')
		b = appendTextValue(b, a.Key)
		b = append(b, '=')
		switch a.Value.Type {
		case exporter.TypeString:
			b = appendTextValue(b, a.Value.AsString())
		case exporter.TypeInt:
			b = strconv.AppendInt(b, a.Value.AsInt(), 10)
		case exporter.TypeFloat:
			b = strconv.AppendFloat(b, a.Value.AsFloat(), 'g', -1, 64)
		case exporter.TypeBool:
			b = strconv.AppendBool(b, a.Value.AsBool())
		case exporter.TypeStringSlice:
			b = wire.AppendJSONStringArray(b, a.Value.AsStringSlice())
		}
	}
	return b
}

// appendTextValue writes s bare when that is unambiguous, else as a JSON
// string (which also repairs invalid UTF-8 and escapes line breaks, so a
// span stays on one line).
func appendTextValue(b []byte, s string) []byte {
	if s == "" || !utf8.ValidString(s) {
		return wire.AppendJSONString(b, s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f {
			return wire.AppendJSONString(b, s)
		}
	}
	// U+2028/2029 and other Unicode spaces are left as is: they do not
	// break the line in Kong's log.
	return append(b, s...)
}
