package propagation

import (
	"testing"
)

// Fuzz targets, one per parser. Each checks that extraction never panics,
// that what it accepts is well-formed (valid ids, or a decision without
// ids), that an accepted context survives inject → extract unchanged, and
// that one extraction allocates at most maxExtractAllocs times whatever the
// input (only jaeger's %3A decoding allocates).
//
// Seed corpora of real-world headers are in testdata/fuzz/<target>.

const maxExtractAllocs = 2

func checkExtract(t *testing.T, h HeaderMap, f Format) {
	t.Helper()
	formats := []Format{f}
	sc, ok := Extract(h, formats)
	if !ok {
		if sc != (SpanContext{}) {
			t.Fatalf("not found but returned %+v", sc)
		}
	} else {
		if sc.Format.extractor() != f.extractor() {
			t.Fatalf("format %v, want %v", sc.Format, f)
		}
		if sc.TraceID.IsValid() {
			if !sc.SpanID.IsValid() && f != AWS && f != Datadog {
				t.Fatalf("%v accepted a context without span id: %+v", f, sc)
			}
			if sc.Debug && sc.Sampling != Sampled {
				t.Fatalf("debug without sampled: %+v", sc)
			}
			if sc.SpanID.IsValid() {
				// What we accept we can pass on, and read back unchanged.
				// As a context of unknown origin, so that every header of
				// the format is written (Datadog keeps incoming tags).
				out := sc
				out.Format = FormatNone
				back, ok := Extract(headerMapOf(Inject(nil, out, []Format{sc.Format}, W3C)), formats)
				wantSampling := sc.Sampling
				if wantSampling == NoDecision {
					wantSampling = NotSampled
				}
				if !ok || back.TraceID != sc.TraceID || back.SpanID != sc.SpanID || back.Sampling != wantSampling || back.Debug != sc.Debug {
					t.Fatalf("round trip of %+v gave %+v (%v)", sc, back, ok)
				}
			}
		} else if sc.Sampling == NoDecision || sc.SpanID.IsValid() {
			t.Fatalf("decision-only context without a decision, or with a span: %+v", sc)
		}
	}
	if n := testing.AllocsPerRun(1, func() { Extract(h, formats) }); n > maxExtractAllocs {
		t.Fatalf("%v allocated %v times for %v", f, n, h)
	}
}

func FuzzW3C(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
	f.Add("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-xyz", "")
	f.Fuzz(func(t *testing.T, traceparent, tracestate string) {
		checkExtract(t, HeaderMap{"traceparent": {traceparent}, "tracestate": {tracestate}}, W3C)
		if sc, ok := Extract(HeaderMap{"traceparent": {traceparent}, "tracestate": {tracestate}}, []Format{W3C}); ok && sc.TraceState != "" {
			// A tracestate we accept is one OpenTelemetry-style parsers accept.
			if !validTracestate(sc.TraceState) {
				t.Fatalf("kept invalid tracestate %q", sc.TraceState)
			}
		}
	})
}

func FuzzB3Single(f *testing.F) {
	f.Add("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")
	f.Add("0")
	f.Fuzz(func(t *testing.T, b3 string) {
		checkExtract(t, HeaderMap{"b3": {b3}}, B3)
	})
}

func FuzzB3Multi(f *testing.F) {
	f.Add("80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1", "05e3ac9a4f6e3b90", "1", "")
	f.Add("a3ce929d0e0e4736", "e457b5a2e4d86bd1", "", "", "1")
	f.Fuzz(func(t *testing.T, traceID, spanID, parentID, sampled, flags string) {
		checkExtract(t, HeaderMap{"x-b3-traceid": {traceID}, "x-b3-spanid": {spanID}, "x-b3-parentspanid": {parentID},
			"x-b3-sampled": {sampled}, "x-b3-flags": {flags}}, B3)
	})
}

func FuzzJaeger(f *testing.F) {
	f.Add("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1")
	f.Add("abc%3Ade%3A0%3A3")
	f.Fuzz(func(t *testing.T, v string) {
		checkExtract(t, HeaderMap{"uber-trace-id": {v}}, Jaeger)
	})
}

func FuzzOT(f *testing.F) {
	f.Add("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "true")
	f.Fuzz(func(t *testing.T, traceID, spanID, sampled string) {
		checkExtract(t, HeaderMap{"ot-tracer-traceid": {traceID}, "ot-tracer-spanid": {spanID}, "ot-tracer-sampled": {sampled}}, OT)
	})
}

func FuzzAWS(f *testing.F) {
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	f.Add("Self=1-67891234-12456789abcdef012345678;Root=1-67891233-abcdef012345678912345678")
	f.Fuzz(func(t *testing.T, v string) {
		checkExtract(t, HeaderMap{"x-amzn-trace-id": {v}}, AWS)
	})
}

func FuzzGCP(f *testing.F) {
	f.Add("105445aa7843bc8bf206b12000100000/1;o=1")
	f.Fuzz(func(t *testing.T, v string) {
		checkExtract(t, HeaderMap{"x-cloud-trace-context": {v}}, GCP)
	})
}

func FuzzDatadog(f *testing.F) {
	f.Add("1234567890123456789", "987654321", "1", "_dd.p.dm=-0,_dd.p.tid=640cfd8d00000000")
	f.Fuzz(func(t *testing.T, traceID, parentID, priority, tags string) {
		checkExtract(t, HeaderMap{"x-datadog-trace-id": {traceID}, "x-datadog-parent-id": {parentID},
			"x-datadog-sampling-priority": {priority}, "x-datadog-tags": {tags}}, Datadog)
	})
}

func FuzzInstana(f *testing.F) {
	f.Add("80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1", "1,correlationType=web;correlationId=abc")
	f.Fuzz(func(t *testing.T, traceID, spanID, level string) {
		checkExtract(t, HeaderMap{"x-instana-t": {traceID}, "x-instana-s": {spanID}, "x-instana-l": {level}}, Instana)
	})
}
