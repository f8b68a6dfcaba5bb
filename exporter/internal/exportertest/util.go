package exportertest

import (
	"encoding/pem"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// DiscardLogger logs nothing.
func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// NewTLSServer is an HTTPS OTLP endpoint with a self-signed certificate.
func NewTLSServer(t *testing.T) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// WriteServerCA writes the test server's certificate as a PEM CA file.
func WriteServerCA(t *testing.T, srv *httptest.Server) string {
	path := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// PlainSpans turns spans into values reflect.DeepEqual compares by content:
// attribute Values hold pointers, so spans are compared through this.
func PlainSpans(spans []exporter.Span) []any {
	plainAttrs := func(attrs []exporter.Attribute) []any {
		out := make([]any, len(attrs))
		for i, a := range attrs {
			var v any
			switch a.Value.Type {
			case exporter.TypeString:
				v = a.Value.AsString()
			case exporter.TypeStringSlice:
				v = append([]string{}, a.Value.AsStringSlice()...)
			case exporter.TypeInt:
				v = a.Value.AsInt()
			case exporter.TypeBool:
				v = a.Value.AsBool()
			case exporter.TypeFloat:
				v = math.Float64bits(a.Value.AsFloat())
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
		var resource any
		if r := s.Resource; r != nil {
			resource = [2]any{plainAttrs(r.Attributes), r.SchemaURL}
		}
		s.Attributes, s.Events, s.Resource = nil, nil, nil
		out[i] = [4]any{s, plainAttrs(spans[i].Attributes), events, resource}
	}
	return out
}
