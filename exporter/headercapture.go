package exporter

import (
	"github.com/trace-exporter/trace-exporter/schema"
)

// headerCapture records the headers listed in capture_request_headers and
// capture_response_headers on the request's SERVER span, as the HTTP
// semantic conventions name them: http.request.header.<name> and
// http.response.header.<name>, string arrays (a header may repeat).
// Credentials and redact_headers are never handed to processors (see
// HeaderReader), so they cannot be captured.
type headerCapture struct {
	request, response []string // lowercase names
	requestKeys       []string // attribute keys, built once
	responseKeys      []string
}

func newHeaderCapture(cfg *schema.Config) (SpanProcessor, error) {
	if p := headerCaptureOf(cfg); p != nil {
		return p, nil
	}
	return nil, nil
}

func newLogHeaderCapture(cfg *schema.Config) (LogProcessor, error) {
	if p := headerCaptureOf(cfg); p != nil {
		return p, nil
	}
	return nil, nil
}

// headerCaptureOf is nil when the config captures no header.
func headerCaptureOf(cfg *schema.Config) *headerCapture {
	request := appendReadable(nil, cfg.CaptureRequestHeaders, cfg.RedactHeaders)
	response := appendReadable(nil, cfg.CaptureResponseHeaders, cfg.RedactHeaders)
	if len(request) == 0 && len(response) == 0 {
		return nil
	}
	p := &headerCapture{request: request, response: response}
	for _, n := range request {
		p.requestKeys = append(p.requestKeys, "http.request.header."+n)
	}
	for _, n := range response {
		p.responseKeys = append(p.responseKeys, "http.response.header."+n)
	}
	return p
}

func (p *headerCapture) HeadersRead() (request, response []string) { return p.request, p.response }

func (p *headerCapture) Process(spans []Span, req *Request) []Span {
	if root := serverSpan(spans); root != nil {
		root.Attributes = p.appendHeaders(root.Attributes, req)
	}
	return spans
}

// ProcessLog records the headers on an access log record, as on the root
// span.
func (p *headerCapture) ProcessLog(r *LogRecord, req *Request) bool {
	r.Attributes = p.appendHeaders(r.Attributes, req)
	return true
}

func (p *headerCapture) appendHeaders(attrs []Attribute, req *Request) []Attribute {
	for i, name := range p.request {
		if v := req.RequestHeader(name); len(v) > 0 {
			attrs = append(attrs, StringSlice(p.requestKeys[i], v))
		}
	}
	for i, name := range p.response {
		if v := req.ResponseHeader(name); len(v) > 0 {
			attrs = append(attrs, StringSlice(p.responseKeys[i], v))
		}
	}
	return attrs
}

// serverSpan finds the request's SERVER span (the first span, unless a
// processor reordered them).
func serverSpan(spans []Span) *Span {
	for i := range spans {
		if spans[i].Kind == KindServer {
			return &spans[i]
		}
	}
	return nil
}
