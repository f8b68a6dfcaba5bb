package jaegertest

import (
	"bytes"
	"strings"
	"testing"
)

// An /api/traces answer with the shapes the live tests cannot easily
// provoke: a 16-digit trace id (high half zero), an int64 beyond 2^53 sent
// as a string, a process given inline instead of by id, a cross-trace
// CHILD_OF reference (not a parent), and an untyped tag.
const fixture = `{"data":[{"traceID":"00000000000000ab","spans":[
 {"traceID":"ab","spanID":"1","operationName":"root","references":[],
  "startTime":1700000000000001,"duration":5,"flags":1,
  "tags":[{"key":"span.kind","type":"string","value":"server"},
          {"key":"big","type":"int64","value":"9007199254740993"},
          {"key":"small","type":"int64","value":-7},
          {"key":"raw","type":"binary","value":"AQL/"},
          {"key":"untyped","value":"x"}],
  "logs":[{"timestamp":1700000000000002,"fields":[{"key":"event","type":"string","value":"retry"}]}],
  "processID":"p1","warnings":["w1"]},
 {"traceID":"00000000000000ab","spanID":"0000000000000002","operationName":"child",
  "references":[{"refType":"CHILD_OF","traceID":"ff","spanID":"9"},{"refType":"CHILD_OF","traceID":"ab","spanID":"1"}],
  "startTime":1700000000000002,"duration":1,"tags":[{"key":"error","type":"bool","value":true}],
  "process":{"serviceName":"inline","tags":[{"key":"host","type":"string","value":"h"}]}}],
 "processes":{"p1":{"serviceName":"kong","tags":[{"key":"ip","type":"string","value":"127.0.0.1"}]}},
 "warnings":null}],"total":0,"limit":0,"offset":0,"errors":null}`

func TestDecodeTraces(t *testing.T) {
	traces, err := decodeTraces([]byte(fixture))
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != 1 {
		t.Fatalf("%d traces", len(traces))
	}
	tr := traces[0]
	if tr.TraceID != strings.Repeat("0", 30)+"ab" {
		t.Errorf("trace id not normalised: %q", tr.TraceID)
	}
	root, child := &tr.Spans[0], &tr.Spans[1]
	if root.SpanID != "0000000000000001" || root.TraceID != tr.TraceID || root.ParentSpanID != "" || root.Kind != "server" {
		t.Errorf("root: %+v", root)
	}
	if v, ok := root.IntTag("big"); !ok || v != 9007199254740993 {
		t.Errorf("big int: %d %v", v, ok)
	}
	if v, ok := root.IntTag("small"); !ok || v != -7 {
		t.Errorf("small int: %d %v", v, ok)
	}
	if tag, _ := root.Tag("raw"); tag.Type != TagBinary || !bytes.Equal(tag.Binary, []byte{1, 2, 255}) || tag.String() != "AQL/" {
		t.Errorf("binary: %+v", tag)
	}
	if tag, _ := root.Tag("untyped"); tag.Type != TagString || tag.Str != "x" {
		t.Errorf("untyped: %+v", tag)
	}
	if _, ok := root.IntTag("untyped"); ok {
		t.Error("IntTag accepted a string tag")
	}
	if root.ServiceName != "kong" || root.StartMicros != 1700000000000001 || root.DurationMicros != 5 || root.Flags != 1 {
		t.Errorf("root fields: %+v", root)
	}
	if tag, ok := root.ProcessTag("ip"); !ok || tag.Str != "127.0.0.1" {
		t.Errorf("process tag: %+v", tag)
	}
	if len(root.Logs) != 1 || root.Logs[0].Fields[0].Str != "retry" || len(root.Warnings) != 1 {
		t.Errorf("logs/warnings: %+v %v", root.Logs, root.Warnings)
	}
	// The reference into another trace is not the parent; the in-trace one is.
	if child.ParentSpanID != root.SpanID || len(child.References) != 2 {
		t.Errorf("child parent %q refs %+v", child.ParentSpanID, child.References)
	}
	if child.ServiceName != "inline" || !child.IsError() || root.IsError() {
		t.Errorf("child: service %q error %v", child.ServiceName, child.IsError())
	}
	if r := tr.Roots(); len(r) != 1 || r[0] != root {
		t.Errorf("roots: %v", r)
	}
	if k := tr.Children("1"); len(k) != 1 || k[0] != child {
		t.Errorf("children: %v", k)
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":       `<html>`,
		"query error":    `{"data":null,"errors":[{"code":400,"msg":"bad service"}]}`,
		"bad int":        `{"data":[{"traceID":"1","spans":[{"spanID":"1","tags":[{"key":"k","type":"int64","value":"x"}]}]}]}`,
		"unknown type":   `{"data":[{"traceID":"1","spans":[{"spanID":"1","tags":[{"key":"k","type":"decimal","value":1}]}]}]}`,
		"type mismatch":  `{"data":[{"traceID":"1","spans":[{"spanID":"1","tags":[{"key":"k","type":"bool","value":"yes"}]}]}]}`,
		"bad log field":  `{"data":[{"traceID":"1","spans":[{"spanID":"1","logs":[{"fields":[{"key":"k","type":"float64","value":"x"}]}]}]}]}`,
		"bad proc field": `{"data":[{"traceID":"1","spans":[{"spanID":"1","process":{"tags":[{"key":"k","type":"bool","value":1}]}}]}]}`,
	} {
		if _, err := decodeTraces([]byte(body)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}
