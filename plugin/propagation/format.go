package propagation

import (
	"fmt"

	"github.com/trace-exporter/trace-exporter/schema"
)

// Format is a trace context header format. Configuration names it with
// Kong's strings (see [ParseFormat]); requests handle the small integer.
type Format uint8

// Formats. The zero value means "none".
const (
	FormatNone Format = iota
	W3C               // traceparent + tracestate
	B3                // X-B3-* multi-header
	B3Single          // b3 single header
	Jaeger            // uber-trace-id
	OT                // ot-tracer-*
	AWS               // X-Amzn-Trace-Id
	GCP               // X-Cloud-Trace-Context
	Datadog           // x-datadog-*
	Instana           // X-INSTANA-*
	Preserve          // inject only: the format that was extracted, else the default format
	formatCount
)

var formatNames = [formatCount]string{
	FormatNone: "",
	W3C:        schema.FormatW3C,
	B3:         schema.FormatB3,
	B3Single:   schema.FormatB3Single,
	Jaeger:     schema.FormatJaeger,
	OT:         schema.FormatOT,
	AWS:        schema.FormatAWS,
	GCP:        schema.FormatGCP,
	Datadog:    schema.FormatDatadog,
	Instana:    schema.FormatInstana,
	Preserve:   schema.FormatPreserve,
}

// String returns Kong's name of the format ("w3c", "b3-single", …).
func (f Format) String() string {
	if f < formatCount {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// ParseFormat maps Kong's format name to a Format. "preserve" is accepted
// (inject lists use it); "ignore" is not a format (it is a header_type value
// handled by [Resolve]).
func ParseFormat(name string) (Format, error) {
	for f := W3C; f < formatCount; f++ {
		if formatNames[f] == name {
			return f, nil
		}
	}
	return FormatNone, fmt.Errorf("propagation: unknown format %q", name)
}

// extractor returns the format whose extractor handles f: b3 and b3-single
// share one (Kong's schema only offers "b3" for extraction; both headers are
// read and the result says which one was found).
func (f Format) extractor() Format {
	if f == B3Single {
		return B3
	}
	return f
}
