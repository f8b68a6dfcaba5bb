package otlpsink

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Encoding is the OTLP/HTTP payload encoding of a request.
type Encoding string

// The two encodings OTLP/HTTP defines.
const (
	Protobuf Encoding = "protobuf"
	JSON     Encoding = "json"
)

// ContentType is the media type OTLP/HTTP uses for the encoding.
func (e Encoding) ContentType() string {
	if e == JSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

// errUnsupported marks requests answered with 415.
var errUnsupported = errors.New("unsupported")

// errTooLarge marks bodies over the limit (413).
var errTooLarge = errors.New("request body too large")

func encodingOf(contentType string) (Encoding, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("%w Content-Type %q: %v", errUnsupported, contentType, err)
	}
	switch mt {
	case "application/x-protobuf":
		return Protobuf, nil
	case "application/json":
		return JSON, nil
	}
	return "", fmt.Errorf("%w Content-Type %q (want application/x-protobuf or application/json)", errUnsupported, mt)
}

func isGzip(contentEncoding string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(contentEncoding)) {
	case "", "identity":
		return false, nil
	case "gzip":
		return true, nil
	}
	return false, fmt.Errorf("%w Content-Encoding %q (want gzip or none)", errUnsupported, contentEncoding)
}

// readBody reads at most limit wire bytes and, if gzipped, at most limit
// decompressed bytes (a small gzip bomb must not exhaust memory). It returns
// the payload and the wire size.
func readBody(r io.Reader, gz bool, limit int64) ([]byte, int64, error) {
	wire := &countingReader{r: io.LimitReader(r, limit+1)}
	var src io.Reader = wire
	if gz {
		zr, err := gzip.NewReader(wire)
		if err != nil {
			return nil, wire.n, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(src, limit+1)); err != nil {
		if gz {
			return nil, wire.n, fmt.Errorf("gzip: %w", err)
		}
		return nil, wire.n, fmt.Errorf("read body: %w", err)
	}
	if wire.n > limit || int64(buf.Len()) > limit {
		return nil, wire.n, fmt.Errorf("%w (limit %d bytes)", errTooLarge, limit)
	}
	return buf.Bytes(), wire.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// decodeExport parses a trace export request and checks its ids.
func decodeExport(body []byte, enc Encoding) (*coltracepb.ExportTraceServiceRequest, error) {
	return decodeChecked(body, enc, &coltracepb.ExportTraceServiceRequest{}, validateIDs)
}

// decodeChecked parses an export request of either signal into req and
// runs check on it; both signals refuse the same way what they cannot read.
func decodeChecked[M proto.Message](body []byte, enc Encoding, req M, check func(M) error) (M, error) {
	var none M
	var err error
	if enc == JSON {
		err = UnmarshalJSON(body, req)
	} else {
		err = proto.Unmarshal(body, req)
	}
	if err != nil {
		return none, fmt.Errorf("decode OTLP %s: %w", enc, err)
	}
	if err := check(req); err != nil {
		return none, err
	}
	return req, nil
}

// validateIDs refuses what a collector refuses: ids of the wrong length and
// all-zero trace or span ids. A sink that accepted them would hide exporter bugs.
func validateIDs(req *coltracepb.ExportTraceServiceRequest) error {
	for ri, rs := range req.GetResourceSpans() {
		for si, ss := range rs.GetScopeSpans() {
			for i, sp := range ss.GetSpans() {
				where := func() string {
					return fmt.Sprintf("resourceSpans[%d].scopeSpans[%d].spans[%d] (%q)", ri, si, i, sp.GetName())
				}
				if err := checkID("traceId", sp.GetTraceId(), 16, false); err != nil {
					return fmt.Errorf("%s: %w", where(), err)
				}
				if err := checkID("spanId", sp.GetSpanId(), 8, false); err != nil {
					return fmt.Errorf("%s: %w", where(), err)
				}
				if err := checkID("parentSpanId", sp.GetParentSpanId(), 8, true); err != nil {
					return fmt.Errorf("%s: %w", where(), err)
				}
				for li, l := range sp.GetLinks() {
					if err := checkID("traceId", l.GetTraceId(), 16, false); err != nil {
						return fmt.Errorf("%s.links[%d]: %w", where(), li, err)
					}
					if err := checkID("spanId", l.GetSpanId(), 8, false); err != nil {
						return fmt.Errorf("%s.links[%d]: %w", where(), li, err)
					}
				}
			}
		}
	}
	return nil
}

func checkID(name string, id []byte, size int, optional bool) error {
	if len(id) == 0 && optional {
		return nil
	}
	if len(id) != size {
		return fmt.Errorf("%s has %d bytes, want %d", name, len(id), size)
	}
	for _, b := range id {
		if b != 0 {
			return nil
		}
	}
	return fmt.Errorf("%s is all zeros", name)
}
