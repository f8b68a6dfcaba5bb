package exporter

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
	"github.com/trace-exporter/trace-exporter/schema"
)

// OTLP size limits, which every backend here applies: a request over
// MaxRequestBytes is not sent (dropped and counted), a response over
// MaxResponseBytes is not parsed.
const (
	MaxRequestBytes  = 64 << 20
	MaxResponseBytes = 4 << 20
)

// HTTPSender POSTs request bodies to an HTTP backend the way every HTTP
// backend here does: the config's endpoint, headers, TLS, timeouts and
// compression, and the OTLP/HTTP rules for the answer (see Send). Custom
// HTTP exporters use it so they retry exactly like the built-in ones.
type HTTPSender struct {
	client      *http.Client
	url         string
	host        string // a Host header from config, which net/http takes from req.Host
	header      http.Header
	gzip        bool
	timeout     time.Duration
	maxBody     int
	maxResponse int
}

// NewHTTPSender builds a sender for cfg's traces_endpoint with contentType
// as the request's Content-Type. Errors name the config field at fault
// (unreadable TLS files...).
func NewHTTPSender(cfg *schema.Config, contentType string, set Settings) (*HTTPSender, error) {
	// The config validates the endpoint of the built-in backends; a custom
	// exporter's is checked here, before any span waits on it.
	if u, err := url.Parse(cfg.TracesURL()); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &schema.FieldError{Field: "traces_endpoint", Reason: fmt.Sprintf("an http:// or https:// URL is required, got %q", wire.RedactURL(cfg.TracesURL()))}
	}
	concurrency := cfg.Queue.ConcurrencyLimit
	if concurrency < 0 {
		concurrency = concurrencyNoQueueing
	}
	logger := set.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client, err := NewHTTPClient(cfg, max(concurrency, 1), logger)
	if err != nil {
		return nil, err
	}
	s := &HTTPSender{
		client:      client,
		url:         cfg.TracesURL(),
		header:      http.Header{},
		gzip:        cfg.Compression == schema.CompressionGzip,
		timeout:     AttemptTimeout(cfg),
		maxBody:     MaxRequestBytes,
		maxResponse: MaxResponseBytes,
	}
	s.header.Set("User-Agent", "trace-exporter/"+Version)
	for k, v := range cfg.Headers {
		if strings.EqualFold(k, "Host") {
			s.host = v
			continue
		}
		s.header.Set(k, v)
	}
	// What describes the body is ours to say.
	s.header.Set("Content-Type", contentType)
	s.header.Del("Content-Encoding")
	if s.gzip {
		s.header.Set("Content-Encoding", "gzip")
	}
	return s, nil
}

// Send POSTs body (gzipped when compression is gzip) and classifies the
// outcome for the retry layer:
//   - a 2xx answer: nil;
//   - 429, 502, 503, 504: retryable, honouring Retry-After;
//   - any other status: permanent (see ClassifyHTTPStatus);
//   - a connection failure or timeout: retryable; a certificate that does
//     not verify: permanent;
//   - a body over 64 MiB (the OTLP limit) is not sent: permanent.
//
// The transport may still read body after Send returns (a server that
// answers early): do not modify it afterwards.
func (s *HTTPSender) Send(ctx context.Context, body []byte) error {
	_, err := s.send(ctx, body, nil)
	return err
}

// SendPooled is Send for a body built in a buffer from GetBuffer, which it
// takes over: the buffer goes back to the pool once the transport is done
// with it (steady-state export then allocates per request, not per span).
// It returns the 2xx response body (at most 4 MiB) for exporters that read
// it, such as OTLP's partial success.
func (s *HTTPSender) SendPooled(ctx context.Context, body *[]byte) ([]byte, error) {
	return s.send(ctx, *body, body)
}

// GetBuffer returns an empty pooled buffer to encode a request body into;
// hand it to HTTPSender.SendPooled, or give it back with PutBuffer.
func GetBuffer() *[]byte { return wire.GetBuffer() }

// PutBuffer returns a buffer from GetBuffer to the pool.
func PutBuffer(b *[]byte) { wire.PutBuffer(b) }

func (s *HTTPSender) send(ctx context.Context, raw []byte, pooled *[]byte) ([]byte, error) {
	if s.gzip {
		compressed := wire.GetBuffer()
		*compressed = wire.GzipAppend(*compressed, raw)
		if pooled != nil {
			wire.PutBuffer(pooled)
		}
		pooled, raw = compressed, *compressed
	}
	if n := len(raw); n > s.maxBody {
		if pooled != nil {
			wire.PutBuffer(pooled)
		}
		return nil, Permanent(fmt.Errorf("request of %d bytes exceeds the limit of %d bytes", n, s.maxBody))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, nil)
	if err != nil {
		if pooled != nil {
			wire.PutBuffer(pooled)
		}
		return nil, Permanent(err)
	}
	if pooled != nil {
		req.Body = wire.NewPooledBody(pooled)
	} else {
		req.Body = io.NopCloser(bytes.NewReader(raw))
	}
	req.ContentLength = int64(len(raw))
	req.Header = s.header.Clone()
	if s.host != "" {
		req.Host = s.host
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
			return nil, err // the pipeline is stopping; the retry layer sees its ctx
		}
		var badCert *tls.CertificateVerificationError
		if errors.As(err, &badCert) {
			// A certificate that does not verify will not verify on retry.
			return nil, Permanent(fmt.Errorf("POST %s: %w", wire.RedactURL(s.url), err))
		}
		return nil, Retryable(fmt.Errorf("POST %s: %w", wire.RedactURL(s.url), err), 0)
	}
	defer resp.Body.Close()
	respBody, tooLarge := wire.ReadCapped(resp.Body, s.maxResponse)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if tooLarge {
			return nil, nil // accepted; an answer that large is not read
		}
		return respBody, nil
	}
	msg := ""
	if !tooLarge {
		msg = decodeStatusMessage(respBody, resp.Header.Get("Content-Type"))
	}
	return nil, ClassifyHTTPStatus(resp.StatusCode, resp.Header, msg, time.Now())
}

// Close releases idle connections; requests in flight end with their
// context.
func (s *HTTPSender) Close() { s.client.CloseIdleConnections() }
