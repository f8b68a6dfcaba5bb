package plugin

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/valyala/fastjson"
)

// The single-pass parser must read every payload exactly as the fastjson
// tree parser it replaced (kept in serialize_tree_test.go): the same error,
// the same entry. Numbers may differ in the last bits only: fastjson's
// float parser is not correctly rounded, strconv's is.

// wantsVariants are the parse options the comparisons run with: nothing
// optional, captured headers (repeated, absent, listed twice, redacted
// ones included), and the no-hand-off extraction of propagation headers.
var wantsVariants = []parseWants{
	{handoffKey: handoffKey},
	{handoffKey: handoffKey, captureRequest: []string{"x-tenant", "x-multi", "user-agent", "host", "x-none", "x-tenant"},
		captureResponse: []string{"content-type", "x-multi", "set-cookie"}},
	{handoffKey: "", propagationNames: []string{"traceparent", "tracestate", "b3", "x-b3-traceid", "uber-trace-id"},
		captureRequest: []string{"traceparent"}},
	{handoffKey: "absent-key", propagationNames: []string{"traceparent", "tracestate"}},
}

// compareParsers parses payload with both parsers under w and returns a
// description of the first difference, or "".
func compareParsers(payload string, w *parseWants) string {
	var p fastjson.Parser
	oldArena, newArena := newArena(64), newArena(64)
	want, wantErr := parseSerializedTree(&p, payload, w, &oldArena)
	got, gotErr := parseSerialized(payload, w, &newArena)
	if wantErr != gotErr {
		return fmt.Sprintf("error %v, tree parser %v", gotErr, wantErr)
	}
	if wantErr != nil {
		return ""
	}
	return entryDiff(got, want)
}

// entryDiff compares two entries, numbers within a few ulps.
func entryDiff(got, want *logEntry) string {
	g, w := *got, *want
	floats := func(e *logEntry) []*float64 {
		fs := []*float64{&e.latKong, &e.latProxy, &e.latRequest, &e.latReceive, &e.startedAtMs}
		for i := range e.tries {
			t := &e.tries[i]
			fs = append(fs, &t.startMs, &t.startNs, &t.latencyMs, &t.latencyNs)
		}
		return fs
	}
	g.tries = append([]balancerTry(nil), g.tries...)
	w.tries = append([]balancerTry(nil), w.tries...)
	if len(g.tries) == len(w.tries) {
		gf, wf := floats(&g), floats(&w)
		for i := range gf {
			if !closeFloats(*gf[i], *wf[i]) {
				return fmt.Sprintf("number #%d: %v, tree parser %v", i, *gf[i], *wf[i])
			}
			*gf[i] = *wf[i]
		}
	}
	if len(got.tries) == 0 {
		g.tries = nil
	}
	if len(want.tries) == 0 {
		w.tries = nil
	}
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("entry\n  %+v\ntree parser\n  %+v", g, w)
	}
	return ""
}

func closeFloats(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 4e-16*math.Max(math.Abs(a), math.Abs(b))
}

func TestParserMatchesTreeParserOnFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "serialize", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i := range wantsVariants {
			if d := compareParsers(string(b), &wantsVariants[i]); d != "" {
				t.Errorf("%s, wants #%d: %s", filepath.Base(f), i, d)
			}
		}
	}
}

// Payload shapes Kong does not produce today but the parser must survive
// and read as the tree parser did.
var parserEdgeCases = map[string]string{
	"escapes": `{"request":{"method":"GET","uri":"\/a\/b?q=\"x\"\\","url":"http:\/\/h:80\/a","headers":` +
		`{"user-agent":"caf\u00e9 \ud83d\ude00 \u00","host":"\ud83d x","x-tenant":"\ud83d\u0041","x-multi":"\q\/\b\f\n\r\t"}}}`,
	"lone surrogates": `{"request":{"method":"\udc00","uri":"\ud800\ud800","url":"\uD83D\uDE00","id":"\u12"}}`,
	"repeated headers": `{"request":{"headers":{"x-multi":["a","b",3,null,"c"],"user-agent":["ua1","ua2"],"host":[],` +
		`"x-tenant":true,"traceparent":["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","x"]}},` +
		`"response":{"headers":{"content-type":["a","b"],"x-multi":false}}}`,
	"first key wins": `{"request":{"method":"GET","method":"POST","headers":{"host":"a","host":"b","x-tenant":1,"x-tenant":"t","user-agent":"u1",` +
		`"user-agent":"u2","traceparent":"t1","traceparent":"t2"}},` +
		`"request":{"method":"PUT"},"route":{"id":"r1","paths":["\/a","\/b"]},"route":{"id":"r2"},"client_ip":"1","client_ip":"2",` +
		`"trace_exporter":"1;x","trace_exporter":"2;y","tries":[],"tries":[{"ip":"x"}],"latencies":{"receive":null,"receive":4}}`,
	"types differ": `{"request":{"method":1,"uri":null,"size":"171","tls":"TLSv1.3","headers":"none"},"response":[1,2],` +
		`"latencies":{"kong":"2","proxy":-1,"request":1e2,"receive":"5"},"tries":[1,"x",{"port":"9000","code":502.0,` +
		`"balancer_start_ns":1.7267838395395e+18,"ip":["x"]},null],"route":{"paths":[1,"\/x"]},"service":"s","upstream_status":502.5,` +
		`"started_at":"1726783839538.25"}`,
	"numbers":         `{"request":{"size":-0.0e-0},"response":{"status":2E2,"size":1e400},"upstream_status":-12,"latencies":{"kong":1E-7,"receive":-1.5e+300}}`,
	"huge ints":       `{"request":{},"upstream_status":123456789012345678901234,"tries":[{"port":99999999999999999999,"code":-9223372036854775809}]}`,
	"deep skipped":    `{"request":{"querystring":{"a":[[[[{"b":[true,false,null,{"c":{}}]}]]]],"e":{}}},"x":[[],{},"",0]}`,
	"whitespace":      " \n\t{ \"request\" : { \"method\" : \"GET\" , \"headers\" : { \"host\" : [ \"h\" ] } } , \"tries\" : [ { \"ip\" : \"1\" } ] } \r\n",
	"stream":          `{"session":{"id":"x"},"upstream_uri":""}`,
	"stream null":     `{"session":null,"request":"x"}`,
	"request not obj": `{"request":[],"session":1}`,
	"no request":      `{"response":{"status":200}}`,
	"empty":           `{}`,
	"trailing":        `{"request":{}} x`,
	"truncated":       `{"request":{"headers":{"a":"b"}`,
	"bad literal":     `{"request":{},"x":tru}`,
	"bad separator":   `{"request":{};"x":1}`,
	"unterminated":    `{"request":{"method":"GET}}`,
	"escaped quote":   `{"request":{"method":"G\\\"ET\\\\","uri":"\\\\"}}`,
	"not object":      `"request"`,
	"empty text":      ``,
	"handoff types":   `{"request":{},"trace_exporter":{"a":1}}`,
	"key escapes":     `{"re\u0071uest":{"meth\u006fd":"GET","headers":{"user\u002dagent":"ua","x\/y":"1"}},"trace\u005fexporter":"h"}`,
}

func TestParserMatchesTreeParserOnEdgeCases(t *testing.T) {
	for name, payload := range parserEdgeCases {
		for i := range wantsVariants {
			if d := compareParsers(payload, &wantsVariants[i]); d != "" {
				t.Errorf("%s, wants #%d: %s", name, i, d)
			}
		}
	}
}

// fastjson refuses documents nested deeper than 300 levels; so does the
// scanner, also inside values it skips.
func TestParserDepthLimit(t *testing.T) {
	for _, depth := range []int{297, 298, 299, 300, 301, 302} {
		for _, where := range []string{"skipped", "headers"} {
			var payload string
			inner := strings.Repeat("[", depth) + strings.Repeat("]", depth)
			if where == "skipped" {
				payload = `{"request":{},"x":` + inner + `}`
			} else {
				payload = `{"request":{"headers":{"x-multi":` + inner + `}}}`
			}
			for i := range wantsVariants {
				if d := compareParsers(payload, &wantsVariants[i]); d != "" {
					t.Errorf("depth %d %s, wants #%d: %s", depth, where, i, d)
				}
			}
		}
	}
}

func FuzzParseSerialized(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "serialize", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, payload := range parserEdgeCases {
		f.Add(payload)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		for i := range wantsVariants {
			d := compareParsers(payload, &wantsVariants[i])
			// Only the structure of skipped values is checked, so text that
			// is not JSON may be read where the tree parser refused it.
			if d != "" && json.Valid([]byte(payload)) {
				t.Fatalf("wants #%d: %s\npayload: %q", i, d, payload)
			}
		}
	})
}

// FuzzParseKongShaped builds serialize payloads the way Kong does (cjson:
// every "/" escaped; optionally every non-ASCII rune as \uXXXX, pairs for
// astral ones), from fuzzed values, with fields left out by a bit mask.
func FuzzParseKongShaped(f *testing.F) {
	f.Add("GET", "/echo/items?id=42&api_key=s3cr3t", "curl/8.5.0", "x-tenant", "acme", uint8(2), 1.7267838395395e+18, "502, 200", uint32(0), false)
	f.Add("PÖST", "/ü/😀?q=<&>", "ua\u2028\x01", "x-multi", "a\"b\\c", uint8(0), 0.5, "", uint32(0xffff), true)
	f.Add("", "", "", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", uint8(5), -1.0, "503", uint32(0x5555), false)
	f.Fuzz(func(t *testing.T, method, uri, ua, hdrName, hdrVal string, tries uint8, ns float64, upstreamStatus string, omit uint32, asciiOnly bool) {
		if math.IsNaN(ns) || math.IsInf(ns, 0) {
			ns = 0
		}
		keep := func(bit uint) bool { return omit&(1<<bit) == 0 }
		headers := map[string]any{"host": "localhost:8000"}
		if keep(0) {
			headers["user-agent"] = ua
		}
		if keep(1) {
			headers[strings.ToLower(hdrName)] = hdrVal
		} else {
			headers[strings.ToLower(hdrName)] = []any{hdrVal, ua, hdrVal}
		}
		req := map[string]any{"method": method, "uri": uri, "url": "http://localhost:8000" + uri, "headers": headers,
			"querystring": map[string]any{"id": "42", "flag": true}, "size": 171}
		if keep(2) {
			req["id"] = "2f6946328ffc4946b8c9120704a4a155"
		}
		if keep(3) {
			req["tls"] = map[string]any{"version": "TLSv1.3", "cipher": hdrVal, "client_verify": "NONE"}
		}
		payload := map[string]any{"request": req, "client_ip": "127.0.0.1", "started_at": 1726783839538.0,
			"upstream_uri": uri, "source": "upstream"}
		if keep(4) {
			payload["upstream_status"] = upstreamStatus
		} else if !keep(5) {
			payload["upstream_status"] = len(upstreamStatus)
		}
		if keep(6) {
			payload["response"] = map[string]any{"status": 200, "size": "412", "headers": map[string]any{"content-type": []any{hdrVal, "x"}}}
		}
		if keep(7) {
			lat := map[string]any{"kong": 1, "proxy": -1, "request": ns / 1e12}
			if keep(8) {
				lat["receive"] = 0.25
			}
			payload["latencies"] = lat
		}
		if keep(9) {
			var ts []any
			for i := range int(tries % 8) {
				try := map[string]any{"balancer_start": 1726783839539 + i, "balancer_start_ns": ns + float64(i),
					"ip": "10.0.0." + fmt.Sprint(i), "port": 9000 + i, "balancer_latency": 0, "balancer_latency_ns": 11000.5}
				if i%2 == 0 && keep(10) {
					try["state"], try["code"] = "failed", 502
				}
				ts = append(ts, try)
			}
			payload["tries"] = ts
		}
		if keep(11) {
			payload["route"] = map[string]any{"id": "r", "name": method, "paths": []any{uri}, "protocols": []any{"http"}}
		}
		if keep(12) {
			payload["service"] = map[string]any{"id": "s", "name": hdrVal, "host": "up", "port": 80, "protocol": "http", "path": uri}
		}
		if keep(13) {
			payload["consumer"] = map[string]any{"id": "c", "username": ua, "custom_id": hdrName}
			payload["authenticated_entity"] = map[string]any{"id": "cred", "consumer_id": "c"}
		}
		if keep(14) {
			payload["workspace"], payload["workspace_name"] = "ws", "default"
		}
		if keep(15) {
			payload[handoffKey] = "1;4bf92f3577b34da6a3ce929d0e0e4736;00f067aa0ba902b7;b9c7c989f97918e1;;01;1726783839538;" + hdrVal
		}
		b, err := json.Marshal(payload)
		if err != nil {
			t.Skip()
		}
		text := strings.ReplaceAll(string(b), "/", `\/`)
		if asciiOnly {
			text = escapeNonASCII(text)
		}
		for i := range wantsVariants {
			w := wantsVariants[i]
			w.captureRequest = append(w.captureRequest[:len(w.captureRequest):len(w.captureRequest)], strings.ToLower(hdrName))
			if d := compareParsers(text, &w); d != "" {
				t.Fatalf("wants #%d: %s\npayload: %s", i, d, text)
			}
		}
	})
}

// escapeNonASCII writes every non-ASCII rune as a \u escape, as some JSON
// encoders do.
func escapeNonASCII(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04X`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}
