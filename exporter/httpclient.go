package exporter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/trace-exporter/trace-exporter/schema"
)

// NewHTTPClient builds the HTTP client of an HTTP backend (OTLP/HTTP,
// zipkin, http_json) from cfg's timeouts and TLS fields. Timeouts follow
// Kong's cosocket meaning: connect_timeout bounds the TCP connect and the
// TLS handshake, send_timeout each write of the request, read_timeout the
// wait for the response. Callers should also bound a whole exchange with
// AttemptTimeout. Connections are kept alive and reused; maxConns is the
// expected parallelism (the pipeline's concurrency_limit).
func NewHTTPClient(cfg *schema.Config, maxConns int, logger *slog.Logger) (*http.Client, error) {
	tlsConfig, err := NewTLSConfig(cfg, logger)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeoutDuration(), KeepAlive: 30 * time.Second}
	send := cfg.SendTimeoutDuration()
	transport := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil || send <= 0 {
				return c, err
			}
			return &sendTimeoutConn{Conn: c, timeout: send}, nil
		},
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   cfg.ConnectTimeoutDuration(),
		ResponseHeaderTimeout: cfg.ReadTimeoutDuration(),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxConns + 2,
		MaxIdleConnsPerHost:   maxConns + 2,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // responses are tiny; we never ask for gzip back
	}
	return &http.Client{
		Transport: transport,
		// A POST is never re-sent to a redirect target (Kong does not
		// follow them either): a 3xx is reported as an error.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// AttemptTimeout bounds one export request as a whole: connect, send and
// read budgets added up.
func AttemptTimeout(cfg *schema.Config) time.Duration {
	return cfg.ConnectTimeoutDuration() + cfg.SendTimeoutDuration() + cfg.ReadTimeoutDuration()
}

// sendTimeoutConn gives every write its own deadline (send_timeout): a
// backend that stops reading the request fails the attempt instead of
// hanging it. Reads are bounded by the transport (ResponseHeaderTimeout)
// and the attempt's context, which keeps idle keep-alive connections alive.
type sendTimeoutConn struct {
	net.Conn
	timeout time.Duration
}

func (c *sendTimeoutConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// NewTLSConfig reads the tls_* fields. Verification is on unless
// tls_verify is false, which is logged as a warning.
func NewTLSConfig(cfg *schema.Config, logger *slog.Logger) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.TLSServerName}
	if !cfg.TLSVerify {
		c.InsecureSkipVerify = true
		logger.Warn("tls_verify is false: the backend's TLS certificate is not verified")
	}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, &schema.FieldError{Field: "tls_ca_file", Reason: err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &schema.FieldError{Field: "tls_ca_file", Reason: fmt.Sprintf("%s holds no PEM certificate", cfg.TLSCAFile)}
		}
		c.RootCAs = pool
	}
	if cfg.TLSClientCertFile != "" || cfg.TLSClientKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSClientCertFile, cfg.TLSClientKeyFile)
		if err != nil {
			return nil, &schema.FieldError{Field: "tls_client_cert_file", Reason: err.Error()}
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
