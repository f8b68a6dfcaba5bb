package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestEchoReportsRequestAndTraceContext(t *testing.T) {
	srv := httptest.NewServer(newHandler(nil))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/orders/42?x=1", strings.NewReader("hello"))
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	req.Header.Set("X-Custom", "v")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got echoReply
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Method != "POST" || got.Path != "/orders/42" || got.Query != "x=1" || got.BodyBytes != 5 {
		t.Errorf("reply %+v", got)
	}
	if got.Trace["traceparent"] != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" || len(got.Trace) != 1 {
		t.Errorf("trace %v", got.Trace)
	}
	if got.Headers["x-custom"][0] != "v" {
		t.Errorf("headers %v", got.Headers)
	}
}

func TestEchoStatusAndDelayControls(t *testing.T) {
	srv := httptest.NewServer(newHandler(nil))
	defer srv.Close()

	start := time.Now()
	resp, err := http.Get(srv.URL + "/x?status=503&delay_ms=150")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("status %d, want 503", resp.StatusCode)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered after %v, want >= 150ms", d)
	}

	for _, q := range []string{"status=99", "status=600", "status=abc", "status=150", "delay_ms=-1", "delay_ms=x"} {
		resp, err := http.Get(srv.URL + "/x?" + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d (%s), want 400", q, resp.StatusCode, body)
		}
	}
}

func TestEchoDelayIsBoundedAndEndsWhenClientLeaves(t *testing.T) {
	r := httptest.NewRequest("GET", "/x?delay_ms=999999999", nil)
	_, d, err := parseControls(r)
	if err != nil || d != maxDelay {
		t.Fatalf("delay %v, err %v; want %v", d, err, maxDelay)
	}

	srv := httptest.NewServer(newHandler(nil))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/x?delay_ms=10000", nil)
	start := time.Now()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("request should have timed out on the client side")
	}
	// httptest.Server.Close waits for handlers: it must return long before 10 s.
	srv.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("handler kept running %v after the client left", d)
	}
}

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(newHandler(nil))
	defer srv.Close()
	if err := healthcheck(srv.URL+"/healthz", time.Second); err != nil {
		t.Errorf("healthy server: %v", err)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer bad.Close()
	if err := healthcheck(bad.URL, time.Second); err == nil {
		t.Error("500 answer passed the health check")
	}
	url := bad.URL
	bad.Close()
	if err := healthcheck(url, time.Second); err == nil {
		t.Error("closed server passed the health check")
	}
}
