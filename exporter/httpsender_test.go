package exporter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trace-exporter/trace-exporter/schema"
)

func TestFailureMessagesAreReadFromTheBody(t *testing.T) {
	if got := decodeStatusMessage([]byte(`{"code":3,"message":"bad span"}`), "application/json"); got != "bad span" {
		t.Errorf("json: %q", got)
	}
	if got := decodeStatusMessage([]byte{0x12, 0x03, 'b', 'a', 'd'}, "application/x-protobuf"); got != "bad" {
		t.Errorf("protobuf: %q", got)
	}
	if got := decodeStatusMessage([]byte(strings.Repeat("é", 1000)), "text/plain"); len(got) > maxErrorMessage+len("…") {
		t.Errorf("text not capped: %d bytes", len(got))
	}
}

// A body over the limit is refused for good before anything is sent.
func TestRequestsOverTheSizeLimitAreDroppedNotSent(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	defer srv.Close()
	cfg := schema.Defaults()
	cfg.TracesEndpoint = srv.URL + "/v1/traces"
	s, err := NewHTTPSender(&cfg, "application/x-protobuf", Settings{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.maxBody = 1000
	err = s.Send(context.Background(), make([]byte, 1001))
	if !IsPermanent(err) || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Fatalf("err = %v, want a permanent size error", err)
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
	if err := s.Send(context.Background(), make([]byte, 1000)); err != nil {
		t.Fatalf("a body at the limit: %v", err)
	}
}
