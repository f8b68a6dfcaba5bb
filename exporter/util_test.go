package exporter

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newTLSReceiver is an HTTPS OTLP endpoint with a self-signed certificate.
func newTLSReceiver(t *testing.T) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// writeServerCA writes the test server's certificate as a PEM CA file.
func writeServerCA(t *testing.T, srv *httptest.Server) string {
	path := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// plainSpans turns spans into values reflect.DeepEqual compares by content:
// attribute Values hold pointers, so spans are compared through this.
func plainSpans(spans []Span) []any {
	plainAttrs := func(attrs []Attribute) []any {
		out := make([]any, len(attrs))
		for i, a := range attrs {
			var v any
			switch a.Value.Type {
			case TypeString:
				v = a.Value.AsString()
			case TypeStringSlice:
				v = append([]string{}, a.Value.AsStringSlice()...)
			case TypeInt, TypeBool, TypeFloat:
				v = a.Value.num
			}
			out[i] = [3]any{a.Key, a.Value.Type, v}
		}
		return out
	}
	out := make([]any, len(spans))
	for i, s := range spans {
		events := make([]any, len(s.Events))
		for j, e := range s.Events {
			events[j] = [3]any{e.Name, e.TimeUnixNano, plainAttrs(e.Attributes)}
		}
		s.Attributes, s.Events = nil, nil
		out[i] = [3]any{s, plainAttrs(spans[i].Attributes), events}
	}
	return out
}
