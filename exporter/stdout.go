package exporter

import (
	"context"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/trace-exporter/trace-exporter/schema"
)

func init() { Register(string(schema.ExporterStdout), newStdoutExporter) }

// stdout is the process's standard output. Kong logs each line the plugin
// server prints (at level info, prefixed with the plugin name), so a line
// per span is readable in Kong's error log. One lock for the process: lines
// of concurrent pipelines never interleave.
var stdout = struct {
	sync.Mutex
	w io.Writer
}{w: os.Stdout}

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

func newStdoutExporter(cfg *schema.Config, _ Settings) (Exporter, error) {
	return &stdoutExporter{json: cfg.StdoutFormat == schema.StdoutOTLPJSON}, nil
}

func (e *stdoutExporter) Export(_ context.Context, batch Batch) error {
	out := getBuffer()
	defer putBuffer(out)
	if e.json {
		*out = appendTracesJSON(*out, &batch)
		*out = append(*out, '\n')
	} else {
		service := DefaultServiceName
		if batch.Resource != nil {
			if s := stringAttribute(batch.Resource.Attributes, "service.name"); s != "" {
				service = s
			}
		}
		for i := range batch.Spans {
			*out = appendTextSpan(*out, &batch.Spans[i], service)
		}
	}
	stdout.Lock()
	_, err := stdout.w.Write(*out)
	stdout.Unlock()
	if err != nil {
		// A closed stdout (Kong gone) will not come back: do not retry.
		return Permanent(err)
	}
	return nil
}

func (e *stdoutExporter) Shutdown(context.Context) error { return nil }

// appendTextSpan writes one span as one line.
func appendTextSpan(b []byte, s *Span, service string) []byte {
	b = time.Unix(0, int64(s.StartUnixNano)).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = appendTextValue(b, service)
	b = append(b, ' ')
	b = appendHex(b, s.TraceID[:])
	b = append(b, ' ')
	b = appendHex(b, s.SpanID[:])
	b = append(b, " parent="...)
	if s.ParentSpanID.IsValid() {
		b = appendHex(b, s.ParentSpanID[:])
	} else {
		b = append(b, '-')
	}
	b = append(b, ' ')
	if int(s.Kind) >= 0 && int(s.Kind) < len(kindNames) {
		b = append(b, kindNames[s.Kind]...)
	} else {
		b = append(b, "unspecified"...)
	}
	b = append(b, ' ')
	b = appendJSONString(b, s.Name)
	b = append(b, ' ')
	var d time.Duration
	if s.EndUnixNano > s.StartUnixNano {
		d = time.Duration(s.EndUnixNano - s.StartUnixNano)
	}
	b = append(b, d.String()...)
	b = append(b, " status="...)
	if int(s.Status) >= 0 && int(s.Status) < len(statusNames) {
		b = append(b, statusNames[s.Status]...)
	}
	if s.StatusMessage != "" {
		b = append(b, " status_message="...)
		b = appendJSONString(b, s.StatusMessage)
	}
	for i := range s.Attributes {
		a := &s.Attributes[i]
		b = append(b, ' ')
		b = appendTextValue(b, a.Key)
		b = append(b, '=')
		switch a.Value.Type {
		case TypeString:
			b = appendTextValue(b, a.Value.AsString())
		case TypeInt:
			b = strconv.AppendInt(b, a.Value.AsInt(), 10)
		case TypeFloat:
			b = strconv.AppendFloat(b, a.Value.AsFloat(), 'g', -1, 64)
		case TypeBool:
			b = strconv.AppendBool(b, a.Value.AsBool())
		case TypeStringSlice:
			b = appendJSONStringArray(b, a.Value.AsStringSlice())
		}
	}
	if s.DroppedAttributes > 0 {
		b = append(b, " dropped_attributes="...)
		b = strconv.AppendUint(b, uint64(s.DroppedAttributes), 10)
	}
	for i := range s.Events {
		b = append(b, " event="...)
		b = appendJSONString(b, s.Events[i].Name)
	}
	return append(b, '\n')
}

// appendTextValue writes s bare when that is unambiguous, else as a JSON
// string (which also repairs invalid UTF-8 and escapes line breaks, so a
// span stays on one line).
func appendTextValue(b []byte, s string) []byte {
	if s == "" || !utf8.ValidString(s) {
		return appendJSONString(b, s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f {
			return appendJSONString(b, s)
		}
	}
	// U+2028/2029 and other Unicode spaces are left as is: they do not
	// break the line in Kong's log.
	return append(b, s...)
}
