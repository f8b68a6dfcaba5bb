package propagation

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/trace-exporter/trace-exporter/schema"
)

func TestResolve(t *testing.T) {
	legacy := []Format{B3, W3C, Jaeger, OT, Datadog, AWS, GCP, Instana}
	cases := []struct {
		name       string
		p          schema.Propagation
		headerType string
		extract    []Format
		inject     []Format
		clear      []string
		def        Format
	}{
		{name: "header_type preserve (the default)", p: schema.Propagation{DefaultFormat: "w3c"}, headerType: "preserve",
			extract: legacy, inject: []Format{Preserve}, def: W3C},
		{name: "header_type ignore: no extraction, inject default_format", p: schema.Propagation{DefaultFormat: "b3"}, headerType: "ignore",
			inject: []Format{B3}, def: B3},
		{name: "header_type jaeger: extract all, inject preserve and jaeger", p: schema.Propagation{DefaultFormat: "w3c"}, headerType: "jaeger",
			extract: legacy, inject: []Format{Preserve, Jaeger}, def: W3C},
		{name: "header_type b3-single", p: schema.Propagation{}, headerType: "b3-single",
			extract: legacy, inject: []Format{Preserve, B3Single}, def: W3C},
		{name: "header_type unset: nothing", p: schema.Propagation{DefaultFormat: "w3c"}, def: W3C},
		{name: "extract set: header_type ignored", p: schema.Propagation{Extract: []string{"w3c", "aws"}, DefaultFormat: "w3c"}, headerType: "jaeger",
			extract: []Format{W3C, AWS}, def: W3C},
		{name: "inject set: header_type ignored", p: schema.Propagation{Inject: []string{"preserve", "datadog"}, DefaultFormat: "gcp"}, headerType: "preserve",
			inject: []Format{Preserve, Datadog}, def: GCP},
		{name: "only clear set: header_type ignored, nothing extracted or injected (as Kong)",
			p: schema.Propagation{Clear: []string{"x-foo"}, DefaultFormat: "w3c"}, headerType: "preserve", clear: []string{"x-foo"}, def: W3C},
		{name: "empty lists count as set", p: schema.Propagation{Extract: []string{}, Inject: []string{}, DefaultFormat: "w3c"}, headerType: "preserve",
			extract: []Format{}, inject: []Format{}, def: W3C},
		{name: "duplicates removed, b3-single extracts as b3", p: schema.Propagation{Extract: []string{"b3", "w3c", "b3", "b3-single"}, Inject: []string{"w3c", "w3c"}},
			extract: []Format{B3, W3C}, inject: []Format{W3C}, def: W3C},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Resolve(tc.p, tc.headerType)
			if err != nil {
				t.Fatal(err)
			}
			if !sameFormats(c.ExtractFormats, tc.extract) || !sameFormats(c.InjectFormats, tc.inject) ||
				!reflect.DeepEqual(c.ClearHeaders, tc.clear) && (len(c.ClearHeaders) != 0 || len(tc.clear) != 0) || c.DefaultFormat != tc.def {
				t.Errorf("got extract %v inject %v clear %v default %v\nwant extract %v inject %v clear %v default %v",
					c.ExtractFormats, c.InjectFormats, c.ClearHeaders, c.DefaultFormat, tc.extract, tc.inject, tc.clear, tc.def)
			}
		})
	}
}

func sameFormats(a, b []Format) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestResolveErrors(t *testing.T) {
	cases := []struct {
		p          schema.Propagation
		headerType string
		field      string
	}{
		{schema.Propagation{Extract: []string{"w3c", "zipkin"}}, "", "propagation.extract[2]"},
		{schema.Propagation{Extract: []string{"preserve"}}, "", "propagation.extract[1]"},
		{schema.Propagation{Inject: []string{"ignore"}}, "", "propagation.inject[1]"},
		{schema.Propagation{DefaultFormat: "preserve"}, "", "propagation.default_format"},
		{schema.Propagation{DefaultFormat: "W3C"}, "", "propagation.default_format"},
		{schema.Propagation{}, "zipkin", "header_type"},
	}
	for _, tc := range cases {
		_, err := Resolve(tc.p, tc.headerType)
		if err == nil || !strings.HasPrefix(err.Error(), tc.field+":") {
			t.Errorf("%+v %q: error %v, want one naming %s", tc.p, tc.headerType, err, tc.field)
		}
	}
}

// TestResolveFromKongConfig decodes configs the way Kong sends them (unset
// arrays as JSON null) through the real schema package.
func TestResolveFromKongConfig(t *testing.T) {
	const endpoint = `"traces_endpoint": "http://127.0.0.1:4318/v1/traces"`
	cases := []struct {
		json    string
		extract []Format
		inject  []Format
	}{
		{`{` + endpoint + `}`, legacyExtract, []Format{Preserve}},
		{`{` + endpoint + `, "header_type": "preserve", "propagation": {"extract": null, "inject": null, "clear": null, "default_format": "w3c"}}`,
			legacyExtract, []Format{Preserve}},
		{`{` + endpoint + `, "header_type": "ignore", "propagation": {"default_format": "jaeger"}}`, nil, []Format{Jaeger}},
		{`{` + endpoint + `, "header_type": "aws", "propagation": {"extract": ["w3c"], "inject": ["preserve"], "default_format": "w3c"}}`,
			[]Format{W3C}, []Format{Preserve}},
	}
	for _, tc := range cases {
		var cfg schema.Config
		if err := json.Unmarshal([]byte(tc.json), &cfg); err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		c, err := ResolveConfig(&cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		if !sameFormats(c.ExtractFormats, tc.extract) || !sameFormats(c.InjectFormats, tc.inject) {
			t.Errorf("%s: extract %v inject %v, want %v %v", tc.json, c.ExtractFormats, c.InjectFormats, tc.extract, tc.inject)
		}
	}
}

func TestConfigHeaders(t *testing.T) {
	cases := []struct {
		extract []string
		want    []string
		single  string
	}{
		{nil, nil, ""},
		{[]string{"jaeger"}, []string{"uber-trace-id"}, "uber-trace-id"},
		{[]string{"aws"}, []string{"x-amzn-trace-id"}, "x-amzn-trace-id"},
		{[]string{"gcp"}, []string{"x-cloud-trace-context"}, "x-cloud-trace-context"},
		{[]string{"w3c"}, []string{"traceparent", "tracestate"}, ""},
		{[]string{"jaeger", "w3c"}, []string{"uber-trace-id", "traceparent", "tracestate"}, ""},
		{[]string{"b3"}, []string{"b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags"}, ""},
		{[]string{"datadog", "instana", "ot"}, []string{"x-datadog-trace-id", "x-datadog-parent-id", "x-datadog-sampling-priority",
			"x-datadog-tags", "x-instana-t", "x-instana-s", "x-instana-l", "ot-tracer-traceid", "ot-tracer-spanid", "ot-tracer-sampled"}, ""},
	}
	for _, tc := range cases {
		c, err := Resolve(schema.Propagation{Extract: tc.extract, Inject: []string{}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c.Headers(), tc.want) {
			t.Errorf("%v: headers %v, want %v", tc.extract, c.Headers(), tc.want)
		}
		single, ok := c.SingleHeader()
		if single != tc.single || ok != (tc.single != "") {
			t.Errorf("%v: single header %q %v, want %q", tc.extract, single, ok, tc.single)
		}
	}
}

// TestHeadersCoverExtraction proves Headers is complete: a getter that
// answers only the listed names extracts the same context as the full map.
func TestHeadersCoverExtraction(t *testing.T) {
	full := hm(
		"traceparent", "00-"+w3cTrace+"-"+w3cSpan+"-01", "tracestate", "a=1",
		"x-b3-traceid", b3Trace, "x-b3-spanid", b3Span, "x-b3-sampled", "1", "x-b3-parentspanid", w3cSpan,
		"uber-trace-id", jaegerHdr,
		"ot-tracer-traceid", b3Trace, "ot-tracer-spanid", b3Span, "ot-tracer-sampled", "true",
		"x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"x-cloud-trace-context", "105445aa7843bc8bf206b12000100000/1;o=1",
		"x-datadog-trace-id", "1", "x-datadog-parent-id", "2", "x-datadog-sampling-priority", "1", "x-datadog-tags", "_dd.p.tid=640cfd8d00000000",
		"x-instana-t", b3Trace, "x-instana-s", b3Span, "x-instana-l", "1",
	)
	for _, f := range legacyExtract {
		c, err := Resolve(schema.Propagation{Extract: []string{f.String()}}, "")
		if err != nil {
			t.Fatal(err)
		}
		only := HeaderMap{}
		for _, n := range c.Headers() {
			if v, ok := full[n]; ok {
				only[n] = v
			}
		}
		a, okA := c.Extract(full)
		b, okB := c.Extract(only)
		if !okA || a != b || okA != okB {
			t.Errorf("%v: full %+v %v, listed headers only %+v %v", f, a, okA, b, okB)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for f := W3C; f < formatCount; f++ {
		got, err := ParseFormat(f.String())
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), got, err)
		}
	}
	for _, bad := range []string{"", "ignore", "W3C", "zipkin"} {
		if _, err := ParseFormat(bad); err == nil {
			t.Errorf("ParseFormat(%q) accepted", bad)
		}
	}
	if Format(77).String() != "Format(77)" || FormatNone.String() != "" {
		t.Error("String of unknown/none format")
	}
}
