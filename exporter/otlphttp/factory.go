package otlphttp

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

// Name is the value of the config field `exporter` that selects OTLP; the
// `protocol` field picks HTTP (http/protobuf, http/json) or gRPC, which
// lives in package otlpgrpc.
const Name = string(schema.ExporterOTLP)

func init() { exporter.Register(Name, newExporter) }

const (
	contentTypeProtobuf = "application/x-protobuf"
	contentTypeJSON     = "application/json"
)

// newExporter checks what only this backend understands (the protocol, the
// endpoint and TLS files, through the shared HTTP sender) and builds the
// pipeline's exporter.
func newExporter(cfg *schema.Config, set exporter.Settings) (exporter.Exporter, error) {
	var isJSON bool
	switch cfg.Protocol {
	case schema.ProtocolHTTPProtobuf, "":
	case schema.ProtocolHTTPJSON:
		isJSON = true
	default:
		return nil, &schema.FieldError{Field: "protocol", Reason: fmt.Sprintf("%q is not available in this build", cfg.Protocol)}
	}
	contentType := contentTypeProtobuf
	if isJSON {
		contentType = contentTypeJSON
	}
	sender, err := exporter.NewHTTPSender(cfg, contentType, set)
	if err != nil {
		return nil, err
	}
	return &otlpHTTP{
		sender: sender,
		json:   isJSON,
		warn:   exporter.NewThrottledLog(set.Logger, slog.LevelWarn, "backend warning (partial success)", time.Minute),
	}, nil
}
