package otlpenc

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/exporter/internal/wire"
)

// PartialSuccess is ExportXPartialSuccess of any signal: Rejected spans, log
// records or data points, and the server's message.
type PartialSuccess struct {
	Rejected int64
	Message  string
}

// Result is what a successful answer means for the pipeline, per the OTLP
// specification: rejected items are an *exporter.PartialError (counted, not
// retried); a message without rejections is a warning, logged through warn.
func (ps PartialSuccess) Result(warn *exporter.ThrottledLog) error {
	switch {
	case ps.Rejected > 0:
		return &exporter.PartialError{Rejected: ps.Rejected, Message: ps.Message}
	case ps.Message != "":
		warn.Log(slog.String("warning", ps.Message))
	}
	return nil
}

// Signal names what an OTLP response is about; the JSON name of the
// rejected count differs per signal (rejectedSpans, rejectedLogRecords,
// rejectedDataPoints), while its protobuf field number is 1 in each.
type Signal uint8

// Signals.
const (
	Traces Signal = iota
	Logs
	Metrics
)

var rejectedJSONNames = [...]string{Traces: "rejectedSpans", Logs: "rejectedLogRecords", Metrics: "rejectedDataPoints"}

// DecodePartialSuccess reads ExportXServiceResponse.partial_success in the
// response's encoding. A body it cannot read counts as full success: the
// status was 200 and the data was accepted.
func DecodePartialSuccess(body []byte, isJSON bool, sig Signal) PartialSuccess {
	if len(body) == 0 {
		return PartialSuccess{}
	}
	if isJSON {
		var r struct {
			PartialSuccess map[string]json.RawMessage `json:"partialSuccess"`
		}
		if json.Unmarshal(body, &r) != nil || r.PartialSuccess == nil {
			return PartialSuccess{}
		}
		var ps PartialSuccess
		// int64 is a string in OTLP/JSON; receivers may send a number.
		ps.Rejected, _ = strconv.ParseInt(strings.Trim(string(r.PartialSuccess[rejectedJSONNames[sig]]), `"`), 10, 64)
		_ = json.Unmarshal(r.PartialSuccess["errorMessage"], &ps.Message)
		return ps
	}
	var ps PartialSuccess
	wire.WalkProtoFields(body, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if num == 1 && typ == protowire.BytesType {
			wire.WalkProtoFields(v, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) {
				switch {
				case num == 1 && typ == protowire.VarintType:
					ps.Rejected = int64(n)
				case num == 2 && typ == protowire.BytesType:
					ps.Message = string(v)
				}
			})
		}
	})
	return ps
}
