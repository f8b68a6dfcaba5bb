package otlpenc

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

// decodeOTLPJSON reads OTLP/JSON with protojson, which expects base64 ids:
// the hex ids OTLP/JSON mandates are converted first.
func decodeOTLPJSON(t *testing.T, data []byte) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "traceId" || k == "spanId" || k == "parentSpanId") {
					raw, err := hex.DecodeString(s)
					if err != nil || s != strings.ToLower(s) {
						t.Fatalf("%s %q is not lowercase hex", k, s)
					}
					v[k] = base64.StdEncoding.EncodeToString(raw)
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(tree)
	converted, err := json.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	var out coltracepb.ExportTraceServiceRequest
	if err := protojson.Unmarshal(converted, &out); err != nil {
		t.Fatalf("protojson refuses our JSON: %v\n%s", err, data)
	}
	return &out
}

func TestJSONEncodingDecodesToTheSameSpans(t *testing.T) {
	for name, batch := range map[string]*exporter.Batch{
		"rich":          exportertest.RichBatch(),
		"kong-like":     exportertest.KongLikeBatch(11),
		"no resource":   {Scope: exporter.Scope{Name: "x"}, Spans: exportertest.RichBatch().Spans[:1]},
		"empty scope":   {Resource: &exporter.Resource{}, Spans: exportertest.RichBatch().Spans[1:2]},
		"two resources": exportertest.TwoResourceBatch(),
		"no spans":      {Resource: &exporter.Resource{SchemaURL: "s"}, Scope: exporter.NewScope()},
	} {
		t.Run(name, func(t *testing.T) {
			got := AppendTracesJSON(nil, batch)
			decoded := decodeOTLPJSON(t, got)
			if want := exportertest.ToOTLP(batch); !proto.Equal(decoded, want) {
				t.Fatalf("decoded request differs:\n got  %v\n want %v\n json %s", decoded, want, got)
			}
		})
	}
}

// The OTLP/JSON rules protojson alone would not catch (it accepts both forms).
func TestJSONEncodingFollowsOTLPRules(t *testing.T) {
	got := string(AppendTracesJSON(nil, exportertest.RichBatch()))
	for _, want := range []string{
		`"traceId":"4bf92f3577b34da6a3ce929d0e0e4736"`, // hex, not base64
		`"spanId":"00f067aa0ba902b7"`,
		`"parentSpanId":"0102030405060708"`,
		`"kind":2`,                                  // enum as integer
		`"code":2`,                                  // status enum as integer
		`"startTimeUnixNano":"1700000000123456789"`, // 64-bit as string
		`"intValue":"9223372036854775807"`,
		`"intValue":"-42"`,
		`"doubleValue":12.5`,
		`"doubleValue":"Infinity"`,
		`"droppedAttributesCount":7`, // lowerCamelCase
		`"flags":769`,
		`"resourceSpans"`, `"scopeSpans"`, `"traceState"`, `"timeUnixNano"`,
		`quote\" back\\ tab\t nl\n cr\r ctl\u0001`,
		`/café/\ufffdbad\ufffd`, // each run of invalid bytes becomes one U+FFFD
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	for _, bad := range []string{"trace_id", "span_id", "SPAN_KIND", "STATUS_CODE"} {
		if strings.Contains(got, bad) {
			t.Errorf("found %s in %s", bad, got)
		}
	}
}

func TestJSONFloatsAreValidJSON(t *testing.T) {
	for _, f := range []float64{0, -0.0, 1, -1.5, 1e21, 1e-7, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(-1)} {
		v := exporter.Float("", f).Value
		b := appendJSONAnyValue(nil, &v)
		if !json.Valid(b) {
			t.Errorf("%v encodes as invalid JSON %s", f, b)
		}
	}
}
