package builtin_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"github.com/trace-exporter/trace-exporter/schema"
	"github.com/trace-exporter/trace-exporter/test/jaegertest"
)

// A real OTLP backend (Jaeger v2, which is an OTel Collector) accepts what we
// send in every encoding, and reads back the same spans.
func TestJaegerReceivesEveryEncoding(t *testing.T) {
	j := jaegertest.Start(t)
	cases := []struct {
		protocol    schema.Protocol
		compression schema.Compression
	}{
		{schema.ProtocolHTTPProtobuf, schema.CompressionNone},
		{schema.ProtocolHTTPProtobuf, schema.CompressionGzip},
		{schema.ProtocolHTTPJSON, schema.CompressionNone},
		{schema.ProtocolHTTPJSON, schema.CompressionGzip},
	}
	reg := exporter.NewRegistry(exporter.RegistryOptions{})
	var handles []*exporter.Handle
	for i, c := range cases {
		cfg := exportertest.Config(j.OTLPHTTPURL())
		cfg.Protocol, cfg.Compression = c.protocol, c.compression
		service := fmt.Sprintf("exporter-test-%d-%d", time.Now().UnixNano(), i)
		cfg.ResourceAttributes = map[string]string{"service.name": service}
		h, err := reg.Acquire(cfg)
		if err != nil {
			t.Fatal(err)
		}
		handles = append(handles, h)
		spans := jaegerSafeSpans()
		for k := range spans {
			spans[k].TraceID[0] = byte(i + 1) // a trace per case
		}
		if !h.Enqueue(spans) {
			t.Fatal("enqueue refused")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := reg.ShutdownAll(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	for i, c := range cases {
		t.Run(string(c.protocol)+"/"+string(c.compression), func(t *testing.T) {
			if s := handles[i].Stats(); s.Exported != 2 {
				t.Fatalf("stats %+v", s)
			}
			want := jaegerSafeSpans()
			want[0].TraceID[0], want[1].TraceID[0] = byte(i+1), byte(i+1)
			tr, err := j.Client.WaitTrace(ctx, want[0].TraceID.String(), 2)
			if err != nil {
				t.Fatalf("trace not in Jaeger: %v", err)
			}
			root, ok := tr.Span(want[0].SpanID.String())
			if !ok {
				t.Fatalf("root span missing from %+v", tr)
			}
			child, ok := tr.Span(want[1].SpanID.String())
			if !ok || child.ParentSpanID != want[0].SpanID.String() {
				t.Fatalf("child span missing or wrongly parented: %+v", child)
			}
			if root.OperationName != want[0].Name || root.Kind != "server" || child.Kind != "client" {
				t.Errorf("names/kinds: %q %q %q", root.OperationName, root.Kind, child.Kind)
			}
			if got := root.StringTag("escapes"); got != valid(want[0].Attributes[3].Value.AsString()) {
				t.Errorf("escaped string arrived as %q", got)
			}
			if got := root.StringTag("url.path"); got != valid(want[0].Attributes[1].Value.AsString()) {
				t.Errorf("repaired string arrived as %q", got)
			}
			if n, ok := root.IntTag("max"); !ok || n != 1<<63-1 {
				t.Errorf("int64 arrived as %d (%v)", n, ok)
			}
			if root.StartMicros != int64(want[0].StartUnixNano/1000) ||
				root.DurationMicros != int64((want[0].EndUnixNano-want[0].StartUnixNano)/1000) {
				t.Errorf("timing: start %d duration %d", root.StartMicros, root.DurationMicros)
			}
			if !root.IsError() || len(root.Logs) != 2 {
				t.Errorf("status/events: error %v, %d logs", root.IsError(), len(root.Logs))
			}
			if root.ServiceName == "" || root.ServiceName == "kong" {
				t.Errorf("resource service.name not applied: %q", root.ServiceName)
			}
		})
	}
}

// jaegerSafeSpans is exportertest.RichBatch's root and child span without the +Inf
// attribute: valid OTLP, which Jaeger stores but then cannot serve (its
// query API answers 500 "json: unsupported value: +Inf" for that trace).
func jaegerSafeSpans() []exporter.Span {
	spans := exportertest.RichBatch().Spans[:2]
	attrs := spans[0].Attributes[:0:0]
	for _, a := range spans[0].Attributes {
		if a.Value.Type == exporter.TypeFloat && math.IsInf(a.Value.AsFloat(), 0) {
			continue
		}
		attrs = append(attrs, a)
	}
	spans[0].Attributes = attrs
	return spans
}

func valid(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
