// Command echo is the demo upstream behind Kong in docker/docker-compose.yml
// and `make demo`: it answers every request with a JSON description of what
// it received, so a user can see the trace context Kong injected.
//
// We build our own rather than use a public echo image because the image must
// have a health check (compose waits for service_healthy) and the small
// public echo images are FROM scratch with no shell or wget to run one; here
// the binary checks itself (-healthcheck). It also lets tests run the exact
// upstream users get.
//
// Query parameters shape the answer so traces show interesting cases:
//
//	status=503     answer with that status (100..599)
//	delay_ms=800   wait that long first (at most 10 s; ends early if the client leaves)
//
// GET /healthz answers 200 "ok" for health checks.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxDelay bounds delay_ms so a typo cannot hold a connection for minutes.
const maxDelay = 10 * time.Second

// traceHeaders are the propagation headers Kong may inject, echoed in their
// own field so the demo shows propagation at a glance.
var traceHeaders = []string{
	"traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid",
	"x-b3-parentspanid", "x-b3-sampled", "uber-trace-id", "ot-tracer-traceid",
	"ot-tracer-spanid", "x-amzn-trace-id", "x-cloud-trace-context",
	"x-datadog-trace-id", "x-datadog-parent-id", "x-instana-t", "x-instana-s",
}

// echoReply is the JSON body of every non-health answer.
type echoReply struct {
	Method    string              `json:"method"`
	Path      string              `json:"path"`
	Query     string              `json:"query"`
	Host      string              `json:"host"`
	Headers   map[string][]string `json:"headers"`
	Trace     map[string]string   `json:"trace"`
	BodyBytes int64               `json:"body_bytes"`
	Status    int                 `json:"status"`
	DelayMs   int64               `json:"delay_ms"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to serve on (docker: 0.0.0.0:9000)")
	healthURL := flag.String("healthcheck", "", "GET this URL and exit 0 if it answers 2xx, else 1 (for container health checks)")
	quiet := flag.Bool("quiet", false, "do not log one line per request")
	flag.Parse()

	if *healthURL != "" {
		if err := healthcheck(*healthURL, 2*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, "echo healthcheck:", err)
			os.Exit(1)
		}
		return
	}

	logger := log.New(os.Stderr, "echo ", log.LstdFlags)
	if *quiet {
		logger = nil
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("echo: %v", err)
	}
	srv := &http.Server{
		Handler:           newHandler(logger),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	// Docker stops containers with SIGTERM; drain in-flight requests so Kong
	// does not record a reset as an upstream failure during a clean stop.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	fmt.Fprintf(os.Stderr, "echo: listening on %s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("echo: %v", err)
	}
}

// newHandler returns the echo handler; logger may be nil.
func newHandler(logger *log.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		status, delay, err := parseControls(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		n, _ := discard(r)
		reply := echoReply{
			Method:    r.Method,
			Path:      r.URL.Path,
			Query:     r.URL.RawQuery,
			Host:      r.Host,
			Headers:   lowerHeaders(r.Header),
			Trace:     traceContext(r.Header),
			BodyBytes: n,
			Status:    status,
			DelayMs:   delay.Milliseconds(),
		}
		body, err := json.MarshalIndent(reply, "", "  ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(append(body, '\n'))
		}
		if logger != nil {
			logger.Printf("%s %s -> %d traceparent=%q", r.Method, r.URL.RequestURI(), status, r.Header.Get("traceparent"))
		}
	})
	return mux
}

// parseControls reads status and delay_ms; bad values are the client's error.
func parseControls(r *http.Request) (int, time.Duration, error) {
	q := r.URL.Query()
	status := http.StatusOK
	if s := q.Get("status"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 || n > 599 {
			return 0, 0, fmt.Errorf("status must be an integer in 100..599, got %q", s)
		}
		// 1xx cannot be a final answer in net/http.
		if n < 200 {
			return 0, 0, fmt.Errorf("status must be a final status (200..599), got %d", n)
		}
		status = n
	}
	var delay time.Duration
	if s := q.Get("delay_ms"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, fmt.Errorf("delay_ms must be a non-negative integer, got %q", s)
		}
		delay = min(time.Duration(n)*time.Millisecond, maxDelay)
	}
	return status, delay, nil
}

// discard reads the request body so its size can be echoed; bounded so a
// huge upload cannot tie the upstream up.
func discard(r *http.Request) (int64, error) {
	if r.Body == nil {
		return 0, nil
	}
	buf := make([]byte, 32<<10)
	var n int64
	for n < 64<<20 {
		m, err := r.Body.Read(buf)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func lowerHeaders(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = v
	}
	return out
}

func traceContext(h http.Header) map[string]string {
	out := map[string]string{}
	for _, name := range traceHeaders {
		if v := h.Get(name); v != "" {
			out[name] = v
		}
	}
	return out
}

// healthcheck GETs url and succeeds on 2xx.
func healthcheck(url string, timeout time.Duration) error {
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
