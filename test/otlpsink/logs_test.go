package otlpsink

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

func logsRequest(body string, traceID []byte) *collogspb.ExportLogsServiceRequest {
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "kong"}}}}},
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{
			Body:    &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: body}},
			TraceId: traceID,
		}}}},
	}}}
}

func postLogs(t *testing.T, url, contentType string, body []byte) *http.Response {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// The log sink stores records sent as protobuf and as OTLP/JSON (hex ids),
// refuses what a collector refuses, and answers with injected faults.
func TestLogSink(t *testing.T) {
	s := StartLogs(t)
	id := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	pb, _ := proto.Marshal(logsRequest("GET / 200 1ms", id))
	if r := postLogs(t, s.LogsURL(), "application/x-protobuf", pb); r.StatusCode != 200 {
		t.Fatalf("protobuf: %d", r.StatusCode)
	}
	js, _ := MarshalJSON(logsRequest("GET /j 200 1ms", nil))
	if r := postLogs(t, s.LogsURL(), "application/json", js); r.StatusCode != 200 {
		t.Fatalf("json: %d", r.StatusCode)
	}
	recs, err := s.WaitRecords(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].TraceID() != "0102030405060708090a0b0c0d0e0f10" || recs[0].GetBody().GetStringValue() != "GET / 200 1ms" ||
		recs[1].TraceID() != "" {
		t.Fatalf("records %v", recs)
	}
	if v, ok := recs[1].ResourceAttr("service.name"); !ok || v.GetStringValue() != "kong" {
		t.Fatalf("resource %v", recs[1].Resource)
	}

	bad, _ := proto.Marshal(logsRequest("x", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}))
	if r := postLogs(t, s.LogsURL(), "application/x-protobuf", bad); r.StatusCode != 400 {
		t.Fatalf("all-zero trace id: %d", r.StatusCode)
	}
	s.SetResponder(Sequence(Response{Status: 503, RetryAfter: "1"}))
	r := postLogs(t, s.LogsURL(), "application/x-protobuf", pb)
	if r.StatusCode != 503 || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("injected: %d %v", r.StatusCode, r.Header)
	}
	if st := s.Stats(); st.Requests != 4 || st.Accepted != 2 || st.Invalid != 1 || st.Refused != 2 || st.Records != 2 {
		t.Fatalf("stats %+v", st)
	}
	if r := postLogs(t, s.URL()+TracesPath, "application/x-protobuf", pb); r.StatusCode != 404 {
		t.Fatalf("traces path: %d", r.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitRecords(ctx, 3); err == nil {
		t.Fatal("a third record appeared")
	}
}
