package otlpsink

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

// exportOf builds a request with one trace: a server span and n-1 client children.
func exportOf(traceByte byte, n int) *coltracepb.ExportTraceServiceRequest {
	tid := bytes.Repeat([]byte{traceByte}, 16)
	var spans []*tracepb.Span
	for i := 0; i < n; i++ {
		s := &tracepb.Span{
			TraceId: tid, SpanId: []byte{traceByte, 0, 0, 0, 0, 0, 0, byte(i + 1)},
			Name: fmt.Sprintf("span-%d", i), Kind: tracepb.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: 1_767_000_000_123_456_789 + uint64(i), EndTimeUnixNano: 1_767_000_000_223_456_789,
			Attributes: []*commonpb.KeyValue{{Key: "http.response.status_code",
				Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 200}}}},
		}
		if i == 0 {
			s.Kind = tracepb.Span_SPAN_KIND_SERVER
		} else {
			s.ParentSpanId = spans[0].SpanId
		}
		spans = append(spans, s)
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "kong"}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "trace-exporter"}, Spans: spans}},
	}}}
}

func encode(t *testing.T, m *coltracepb.ExportTraceServiceRequest, enc Encoding, gz bool) []byte {
	t.Helper()
	var b []byte
	var err error
	if enc == JSON {
		b, err = MarshalJSON(m)
	} else {
		b, err = proto.Marshal(m)
	}
	if err != nil {
		t.Fatal(err)
	}
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		b = buf.Bytes()
	}
	return b
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func post(t *testing.T, hc *http.Client, url, contentType string, gz bool, body []byte) (answer, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}, err
}

func mustPost(t *testing.T, url, contentType string, gz bool, body []byte) answer {
	t.Helper()
	a, err := post(t, nil, url, contentType, gz, body)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	return a
}

func TestAcceptsEveryEncoding(t *testing.T) {
	for _, enc := range []Encoding{Protobuf, JSON} {
		for _, gz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/gzip=%v", enc, gz), func(t *testing.T) {
				sink := Start(t)
				sent := exportOf(0x11, 3)
				body := encode(t, sent, enc, gz)
				a := mustPost(t, sink.TracesURL(), enc.ContentType()+"; charset=utf-8", gz, body)
				if a.status != 200 {
					t.Fatalf("status %d: %s", a.status, a.body)
				}
				if ct := a.header.Get("Content-Type"); ct != enc.ContentType() {
					t.Errorf("answer Content-Type %q, want %q", ct, enc.ContentType())
				}
				var resp coltracepb.ExportTraceServiceResponse
				if err := unmarshal(a.body, enc, &resp); err != nil {
					t.Fatalf("answer does not decode: %v", err)
				}
				if resp.PartialSuccess != nil {
					t.Errorf("unexpected partial success %v", resp.PartialSuccess)
				}

				spans, err := sink.WaitTrace(context.Background(), strings.Repeat("11", 16), 3)
				if err != nil {
					t.Fatal(err)
				}
				// What arrived is exactly what was sent, ids included (the
				// JSON path converts hex ids both ways).
				reqs := sink.Requests()
				if len(reqs) != 1 || !proto.Equal(reqs[0].Export, sent) {
					t.Fatalf("decoded request differs from the sent one")
				}
				if spans[1].ParentSpanID() != spans[0].SpanID() || spans[0].ServiceName() != "kong" || spans[0].Scope.GetName() != "trace-exporter" {
					t.Errorf("span view: parent %q root %q service %q", spans[1].ParentSpanID(), spans[0].SpanID(), spans[0].ServiceName())
				}
				if v, ok := spans[2].Attr("http.response.status_code"); !ok || v.GetIntValue() != 200 {
					t.Errorf("attribute: %v %v", v, ok)
				}
				r := reqs[0]
				if r.Encoding != enc || r.Gzip != gz || r.Status != 200 || !r.Accepted || r.Err != nil || r.Seq != 1 || r.SpanCount() != 3 {
					t.Errorf("request record: %+v", r)
				}
				st := sink.Stats()
				want := Stats{Requests: 1, Accepted: 1, Spans: 3, WireBytes: int64(len(body)), BodyBytes: int64(len(encode(t, sent, enc, false)))}
				if st != want {
					t.Errorf("stats %+v, want %+v", st, want)
				}
			})
		}
	}
}

func unmarshal(b []byte, enc Encoding, m proto.Message) error {
	if enc == JSON {
		return UnmarshalJSON(b, m)
	}
	return proto.Unmarshal(b, m)
}

func TestRefusesBadInputWithClearErrors(t *testing.T) {
	sink := StartOptions(t, Options{MaxBodyBytes: 4096})
	good := encode(t, exportOf(0x22, 1), Protobuf, false)
	badIDs := exportOf(0x22, 1)
	badIDs.ResourceSpans[0].ScopeSpans[0].Spans[0].SpanId = make([]byte, 8)
	shortID := exportOf(0x22, 1)
	shortID.ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId = []byte{1, 2, 3}
	base64JSON := []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"ESIzRFVmd4iZqrvM3e7/AA==","spanId":"ESIzRFVmd4g=","name":"x"}]}]}]}`)
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(make([]byte, 1<<20)) // 1 MiB of zeros: ~1 KB compressed, over the 4 KiB limit once inflated
	zw.Close()

	cases := []struct {
		name, contentType string
		gz                bool
		body              []byte
		status            int
		msg               string
	}{
		{"media type", "text/plain", false, good, 415, "Content-Type"},
		{"base64 ids in JSON", "application/json", false, base64JSON, 400, "must be hex"},
		{"broken JSON", "application/json", false, []byte(`{"resourceSpans":[`), 400, "invalid JSON"},
		{"broken protobuf", "application/x-protobuf", false, []byte{0xff, 0xff, 0xff}, 400, "decode OTLP protobuf"},
		{"not gzip", "application/x-protobuf", true, good, 400, "gzip"},
		{"zero span id", "application/x-protobuf", false, encode(t, badIDs, Protobuf, false), 400, "spanId is all zeros"},
		{"short trace id", "application/x-protobuf", false, encode(t, shortID, Protobuf, false), 400, "traceId has 3 bytes, want 16"},
		{"too large", "application/x-protobuf", false, make([]byte, 5000), 413, "too large"},
		{"gzip bomb", "application/x-protobuf", true, bomb.Bytes(), 413, "too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := mustPost(t, sink.TracesURL(), c.contentType, c.gz, c.body)
			if a.status != c.status {
				t.Fatalf("status %d, want %d (%q)", a.status, c.status, a.body)
			}
			var st statuspb.Status
			enc := Protobuf
			if c.contentType == "application/json" {
				enc = JSON
			}
			if err := unmarshal(a.body, enc, &st); err != nil {
				t.Fatalf("error body is not a google.rpc.Status: %v", err)
			}
			if !strings.Contains(st.Message, c.msg) || st.Code != 3 {
				t.Errorf("status %v, want code 3 and a message with %q", &st, c.msg)
			}
		})
	}
	st := sink.Stats()
	if st.Requests != int64(len(cases)) || st.Invalid != int64(len(cases)) || st.Refused != int64(len(cases)) || st.Spans != 0 || len(sink.Spans()) != 0 {
		t.Errorf("stats after bad input: %+v", st)
	}

	// Bad input loses nothing else: a good request right after is stored.
	if a := mustPost(t, sink.TracesURL(), "application/x-protobuf", false, good); a.status != 200 {
		t.Fatalf("good request after bad ones: %d", a.status)
	}
	if len(sink.Spans()) != 1 {
		t.Errorf("spans after a good request: %d", len(sink.Spans()))
	}

	for _, c := range []struct {
		method, path string
		status       int
	}{{http.MethodGet, TracesPath, 405}, {http.MethodPost, "/v1/metrics", 404}} {
		req, _ := http.NewRequest(c.method, sink.URL()+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
	}
	if got := sink.Stats().Requests; got != int64(len(cases))+1 {
		t.Errorf("other paths and methods must not count as export requests: %d", got)
	}
}

func TestInjectedAnswers(t *testing.T) {
	sink := Start(t)
	sink.SetResponder(Sequence(
		Response{Status: 503, RetryAfter: "2", Message: "busy"},
		Response{Status: 429, Header: http.Header{"X-Test": {"yes"}}},
		Response{RejectedSpans: 1, PartialMessage: "one span too big"},
	))
	body := encode(t, exportOf(0x33, 2), Protobuf, false)
	ct := Protobuf.ContentType()

	a := mustPost(t, sink.TracesURL(), ct, false, body)
	var st statuspb.Status
	if a.status != 503 || a.header.Get("Retry-After") != "2" || proto.Unmarshal(a.body, &st) != nil || st.Message != "busy" || st.Code != 14 {
		t.Errorf("first answer: %d %v %v", a.status, a.header, &st)
	}
	a = mustPost(t, sink.TracesURL(), ct, false, body)
	if a.status != 429 || a.header.Get("X-Test") != "yes" || a.header.Get("Retry-After") != "" {
		t.Errorf("second answer: %d %v", a.status, a.header)
	}
	if n := len(sink.Spans()); n != 0 {
		t.Fatalf("refused requests stored %d spans", n)
	}
	a = mustPost(t, sink.TracesURL(), ct, false, body)
	var resp coltracepb.ExportTraceServiceResponse
	if a.status != 200 || proto.Unmarshal(a.body, &resp) != nil ||
		resp.GetPartialSuccess().GetRejectedSpans() != 1 || resp.GetPartialSuccess().GetErrorMessage() != "one span too big" {
		t.Errorf("partial success answer: %d %v", a.status, &resp)
	}
	a = mustPost(t, sink.TracesURL(), ct, false, body) // beyond the sequence: plain success
	if a.status != 200 {
		t.Errorf("fourth answer: %d", a.status)
	}
	st2 := sink.Stats()
	if st2.Requests != 4 || st2.Accepted != 2 || st2.Refused != 2 || st2.Invalid != 0 || st2.Spans != 4 {
		t.Errorf("stats: %+v", st2)
	}
	reqs := sink.Requests()
	if reqs[0].Status != 503 || reqs[0].Accepted || reqs[0].SpanCount() != 2 || reqs[2].Response.RejectedSpans != 1 {
		t.Errorf("records: %+v / %+v", reqs[0], reqs[2])
	}
}

func TestFailFirstThenSucceed(t *testing.T) {
	sink := StartOptions(t, Options{Responder: FailFirst(2, Response{Status: 502})})
	body := encode(t, exportOf(0x34, 1), Protobuf, false)
	var got []int
	for i := 0; i < 4; i++ {
		got = append(got, mustPost(t, sink.TracesURL(), Protobuf.ContentType(), false, body).status)
	}
	if fmt.Sprint(got) != "[502 502 200 200]" {
		t.Errorf("statuses %v", got)
	}
}

func TestDelay(t *testing.T) {
	sink := StartOptions(t, Options{Responder: Always(Response{Delay: 150 * time.Millisecond})})
	body := encode(t, exportOf(0x44, 1), Protobuf, false)

	start := time.Now()
	if a := mustPost(t, sink.TracesURL(), Protobuf.ContentType(), false, body); a.status != 200 {
		t.Fatalf("status %d", a.status)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered after %v, want ≥ 150ms", d)
	}

	// A client that gives up first gets nothing and nothing is stored for it.
	impatient := &http.Client{Timeout: 30 * time.Millisecond}
	if _, err := post(t, impatient, sink.TracesURL(), Protobuf.ContentType(), false, body); err == nil {
		t.Fatal("impatient client got an answer")
	}
	reqs, err := sink.WaitRequests(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if reqs[1].Accepted || reqs[1].Err == nil || !strings.Contains(reqs[1].Err.Error(), "client gave up") {
		t.Errorf("abandoned request record: accepted=%v err=%v", reqs[1].Accepted, reqs[1].Err)
	}
	if n := sink.Stats().Spans; n != 1 {
		t.Errorf("stored spans %d, want 1", n)
	}
}

func TestCloseEndsDelayedAnswers(t *testing.T) {
	sink, err := Listen("127.0.0.1:0", Options{Responder: Always(Response{Delay: time.Minute})})
	if err != nil {
		t.Fatal(err)
	}
	body := encode(t, exportOf(0x45, 1), Protobuf, false)
	done := make(chan error, 1)
	go func() {
		_, err := post(t, nil, sink.TracesURL(), Protobuf.ContentType(), false, body)
		done <- err
	}()
	waitInFlight(t, sink)
	start := time.Now()
	sink.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with a 1-minute delay pending", d)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("client still waiting after Close")
	}
}

// waitInFlight waits until the sink has started handling a request.
func waitInFlight(t *testing.T, s *Sink) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := s.seq
		s.mu.Unlock()
		if n > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("request never reached the sink")
}

func ctxWithin(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestConnectionResets(t *testing.T) {
	for _, mode := range []ResetMode{ResetBeforeBody, ResetAfterBody} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			sink := StartOptions(t, Options{Responder: FailFirst(1, Response{Reset: mode})})
			// A big body so a reset before it is read hits the client mid-upload.
			body := encode(t, exportOf(0x55, 2000), Protobuf, false)
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			_, err := post(t, client, sink.TracesURL(), Protobuf.ContentType(), false, body)
			if err == nil {
				t.Fatal("client got an answer through a reset connection")
			}
			reqs, werr := sink.WaitRequests(ctxWithin(t, 5*time.Second), 1)
			if werr != nil {
				t.Fatal(werr)
			}
			r := reqs[0]
			if r.Accepted || r.Status != 0 || r.Err == nil {
				t.Errorf("reset request record: %+v", r)
			}
			if decoded := r.Export != nil; decoded != (mode == ResetAfterBody) {
				t.Errorf("body decoded=%v for mode %d", decoded, mode)
			}
			// The next attempt (a retry) succeeds and is the only one stored.
			if a, err := post(t, client, sink.TracesURL(), Protobuf.ContentType(), false, body); err != nil || a.status != 200 {
				t.Fatalf("retry: %v %d", err, a.status)
			}
			if st := sink.Stats(); st.Requests != 2 || st.Accepted != 1 || st.Spans != 2000 {
				t.Errorf("stats: %+v", st)
			}
			t.Logf("client saw: %v", err)
		})
	}
}

func TestWaitIsBounded(t *testing.T) {
	sink := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := sink.WaitTrace(ctx, strings.Repeat("ab", 16), 1)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "0 spans stored, want 1") {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("wait took %v", d)
	}
}

func TestConcurrentExportsAreAllCounted(t *testing.T) {
	var seen sync.Map
	sink := StartOptions(t, Options{OnRequest: func(r *Request) { seen.Store(r.Seq, r.SpanCount()) }})
	const workers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				enc := []Encoding{Protobuf, JSON}[i%2]
				body := encode(t, exportOf(byte(w*each+i+1), 2), enc, i%3 == 0)
				if a, err := post(t, nil, sink.TracesURL(), enc.ContentType(), i%3 == 0, body); err != nil || a.status != 200 {
					errs <- fmt.Errorf("worker %d request %d: %v %d", w, i, err, a.status)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	spans, err := sink.WaitSpans(ctxWithin(t, 5*time.Second), workers*each*2)
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != workers*each*2 || len(sink.Traces()) != workers*each {
		t.Errorf("spans %d traces %d", len(spans), len(sink.Traces()))
	}
	n := 0
	seen.Range(func(_, _ any) bool { n++; return true })
	if n != workers*each {
		t.Errorf("OnRequest saw %d requests, want %d", n, workers*each)
	}
}

func TestDiscardKeepsOnlyCounters(t *testing.T) {
	sink := StartOptions(t, Options{Discard: true})
	body := encode(t, exportOf(0x66, 3), Protobuf, false)
	for i := 0; i < 3; i++ {
		mustPost(t, sink.TracesURL(), Protobuf.ContentType(), false, body)
	}
	if _, err := sink.WaitSpans(ctxWithin(t, 5*time.Second), 9); err != nil {
		t.Fatal(err)
	}
	if len(sink.Spans()) != 0 || len(sink.Requests()) != 0 || sink.Stats().Spans != 9 {
		t.Errorf("discard mode retained data: %d spans %d requests, stats %+v", len(sink.Spans()), len(sink.Requests()), sink.Stats())
	}
}

func TestClear(t *testing.T) {
	sink := Start(t)
	body := encode(t, exportOf(0x67, 1), Protobuf, false)
	mustPost(t, sink.TracesURL(), Protobuf.ContentType(), false, body)
	sink.Clear()
	if len(sink.Spans()) != 0 || len(sink.Traces()) != 0 || sink.Stats() != (Stats{}) {
		t.Fatal("Clear left data behind")
	}
	mustPost(t, sink.TracesURL(), Protobuf.ContentType(), false, body)
	if reqs := sink.Requests(); len(reqs) != 1 || reqs[0].Seq != 2 {
		t.Errorf("after Clear: %d requests, seq %d", len(reqs), reqs[0].Seq)
	}
}

func TestTLS(t *testing.T) {
	sink := StartTLS(t, Options{})
	if !strings.HasPrefix(sink.TracesURL(), "https://127.0.0.1:") {
		t.Fatalf("URL %s", sink.TracesURL())
	}
	body := encode(t, exportOf(0x77, 1), Protobuf, false)
	if _, err := post(t, nil, sink.TracesURL(), Protobuf.ContentType(), false, body); err == nil {
		t.Error("an untrusting client reached the TLS sink")
	}
	a, err := post(t, sink.Client(), sink.TracesURL(), Protobuf.ContentType(), false, body)
	if err != nil || a.status != 200 || len(sink.Spans()) != 1 {
		t.Fatalf("trusted client: %v %d, %d spans", err, a.status, len(sink.Spans()))
	}
}

func TestListenIsLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:0"} {
		if s, err := Listen(addr, Options{}); err == nil {
			s.Close()
			t.Errorf("Listen(%q) accepted a non-loopback address", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		s, err := Listen(addr, Options{})
		if err != nil {
			if addr == "[::1]:0" { // hosts without IPv6 loopback
				t.Logf("Listen(%q): %v", addr, err)
				continue
			}
			t.Fatalf("Listen(%q): %v", addr, err)
		}
		s.Close()
	}
}

func TestJSONCodec(t *testing.T) {
	req := exportOf(0x88, 2)
	sp := req.ResourceSpans[0].ScopeSpans[0].Spans[1]
	sp.Links = []*tracepb.Span_Link{{TraceId: bytes.Repeat([]byte{0x99}, 16), SpanId: bytes.Repeat([]byte{0x98}, 8)}}
	sp.Attributes = append(sp.Attributes,
		&commonpb.KeyValue{Key: "big", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 1<<62 + 1}}},
		&commonpb.KeyValue{Key: "raw", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0xfa, 0xce}}}},
		// An attribute named like an id field must not be rewritten.
		&commonpb.KeyValue{Key: "traceId", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "not-hex"}}},
	)
	b, err := MarshalJSON(req)
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	for _, want := range []string{
		`"traceId":"` + strings.Repeat("88", 16) + `"`,
		`"parentSpanId":"` + hex.EncodeToString(req.ResourceSpans[0].ScopeSpans[0].Spans[0].SpanId) + `"`,
		`"traceId":"` + strings.Repeat("99", 16) + `"`, // link
		`"spanId":"` + strings.Repeat("98", 8) + `"`,   // link
		`"bytesValue":"+s4="`,              // other bytes stay base64
		`"intValue":"4611686018427387905"`, // exact 64-bit
		`"kind":2`,                         // enums as numbers
		`"startTimeUnixNano":"1767000000123456789"`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("JSON lacks %s:\n%s", want, js)
		}
	}
	var back coltracepb.ExportTraceServiceRequest
	if err := UnmarshalJSON(b, &back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&back, req) {
		t.Error("JSON round trip changed the request")
	}
	// Unknown fields are ignored (OTLP), snake_case id keys accepted.
	lenient := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"trace_id":"` + strings.Repeat("01", 16) +
		`","span_id":"0102030405060708","name":"x","futureField":1}]}]}],"extra":true}`
	if err := UnmarshalJSON([]byte(lenient), &back); err != nil {
		t.Fatalf("lenient input: %v", err)
	}
	if got := hex.EncodeToString(back.ResourceSpans[0].ScopeSpans[0].Spans[0].SpanId); got != "0102030405060708" {
		t.Errorf("span id %s", got)
	}
	if err := UnmarshalJSON([]byte(`{} {}`), &back); err == nil {
		t.Error("trailing data accepted")
	}
}
