package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// EnvListen is the environment variable that sets the listen address when
// the -metrics-listen flag is not given. Kong's nginx clears its workers'
// environment: declare it with KONG_NGINX_MAIN_ENV.
const EnvListen = "TRACE_EXPORTER_METRICS_LISTEN"

// ListenAddress reads a listen address. A bare port ("9464" or ":9464")
// listens on loopback only: the metrics name backends and show traffic
// volumes, so exposing them beyond the node must be written out
// ("0.0.0.0:9464", "[::]:9464", "10.0.0.5:9464").
func ListenAddress(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", errors.New("empty metrics listen address")
	}
	if !strings.Contains(v, ":") {
		v = ":" + v
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", fmt.Errorf("metrics listen address %q: %w", v, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("metrics listen address %q: bad port", v)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Server serves /metrics on one address.
type Server struct {
	addr   string
	logger *slog.Logger
	srv    *http.Server

	ready  chan struct{} // closed once listening
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	bound net.Addr
}

// retryListenEvery: Kong restarts the plugin server on every reload, and the
// previous process may hold the port for its flush (up to
// TRACE_EXPORTER_SHUTDOWN_TIMEOUT); the new one waits for it.
const retryListenEvery = time.Second

// Start serves reg's metrics at http://addr/metrics in the background. While
// the address is taken it tries again every second, logging the failure at
// most once a minute. Close stops it.
func Start(addr string, reg *prometheus.Registry, logger *slog.Logger) *Server {
	return StartOptions(addr, reg, logger, ServeOptions{})
}

// ServeOptions refine what /metrics serves.
type ServeOptions struct {
	// OpenMetrics answers a scraper that asks for the OpenMetrics format
	// (Prometheus does) in it: the format that carries exemplars and
	// created timestamps (a counter's _created says when it started from
	// zero: a restart). Others get the Prometheus text format.
	OpenMetrics bool
}

// StartOptions is Start with options.
func StartOptions(addr string, reg *prometheus.Registry, logger *slog.Logger, opts ServeOptions) *Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
		EnableOpenMetrics:   opts.OpenMetrics,

		EnableOpenMetricsTextCreatedSamples: opts.OpenMetrics,
	}))
	s := &Server{
		addr:   addr,
		logger: logger,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
		},
		ready:  make(chan struct{}),
		closed: make(chan struct{}),
	}
	go s.run()
	return s
}

func (s *Server) run() {
	var lastLogged time.Time
	for {
		ln, err := net.Listen("tcp", s.addr)
		if err == nil {
			s.mu.Lock()
			s.bound = ln.Addr()
			s.mu.Unlock()
			close(s.ready)
			s.logger.Info("serving metrics", slog.String("url", "http://"+ln.Addr().String()+"/metrics"))
			if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.logger.Error("metrics server stopped", slog.String("error", err.Error()))
			}
			return
		}
		if time.Since(lastLogged) >= time.Minute {
			lastLogged = time.Now()
			s.logger.Warn("cannot listen for metrics yet; retrying every second", slog.String("address", s.addr), slog.String("error", err.Error()))
		}
		select {
		case <-s.closed:
			return
		case <-time.After(retryListenEvery):
		}
	}
}

// Ready is closed once the server listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address listened on, once Ready (useful with port 0).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound == nil {
		return ""
	}
	return s.bound.String()
}

// Close stops listening and ends open scrapes.
func (s *Server) Close() error {
	s.once.Do(func() { close(s.closed) })
	return s.srv.Close()
}
