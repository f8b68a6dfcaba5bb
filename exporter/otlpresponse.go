package exporter

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Decoding of OTLP/HTTP responses: ExportTraceServiceResponse on success
// (for partial_success) and google.rpc.Status on failure (for its message).
// Read with protowire or encoding/json into small structs: a response is
// read once per batch, never per span.

// partialSuccess is ExportTracePartialSuccess.
type partialSuccess struct {
	rejected int64
	message  string
}

// decodePartialSuccess reads ExportTraceServiceResponse.partial_success in
// the response's encoding. A body it cannot read counts as full success:
// the status was 200 and the spans were accepted.
func decodePartialSuccess(body []byte, isJSON bool) partialSuccess {
	if len(body) == 0 {
		return partialSuccess{}
	}
	if isJSON {
		var r struct {
			PartialSuccess *struct {
				RejectedSpans json.RawMessage `json:"rejectedSpans"`
				ErrorMessage  string          `json:"errorMessage"`
			} `json:"partialSuccess"`
		}
		if json.Unmarshal(body, &r) != nil || r.PartialSuccess == nil {
			return partialSuccess{}
		}
		// int64 is a string in OTLP/JSON; receivers may send a number.
		n, _ := strconv.ParseInt(strings.Trim(string(r.PartialSuccess.RejectedSpans), `"`), 10, 64)
		return partialSuccess{rejected: n, message: r.PartialSuccess.ErrorMessage}
	}
	var ps partialSuccess
	walkProtoFields(body, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if num == 1 && typ == protowire.BytesType {
			walkProtoFields(v, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) {
				switch {
				case num == 1 && typ == protowire.VarintType:
					ps.rejected = int64(n)
				case num == 2 && typ == protowire.BytesType:
					ps.message = string(v)
				}
			})
		}
	})
	return ps
}

// maxErrorMessage bounds what a failure response contributes to our logs.
const maxErrorMessage = 512

// decodeStatusMessage extracts a failure response's message:
// google.rpc.Status.message (protobuf or JSON), else the body as text.
func decodeStatusMessage(body []byte, contentType string) string {
	var msg string
	switch {
	case len(body) == 0:
	case strings.HasPrefix(contentType, "application/x-protobuf"):
		walkProtoFields(body, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
			if num == 2 && typ == protowire.BytesType {
				msg = string(v)
			}
		})
	case strings.HasPrefix(contentType, "application/json"):
		var s struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &s) == nil && s.Message != "" {
			msg = s.Message
		} else {
			msg = string(body)
		}
	default:
		msg = string(body)
	}
	msg = strings.TrimSpace(strings.ToValidUTF8(msg, "\uFFFD"))
	if len(msg) > maxErrorMessage {
		cut := maxErrorMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// walkProtoFields calls fn for each top-level field of a protobuf message
// (v for bytes fields, n for varints); it stops quietly at malformed input.
func walkProtoFields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, n uint64)) {
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return
		}
		b = b[l:]
		switch typ {
		case protowire.BytesType:
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return
			}
			fn(num, typ, v, 0)
			b = b[l:]
		case protowire.VarintType:
			n, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return
			}
			fn(num, typ, nil, n)
			b = b[l:]
		default:
			l := protowire.ConsumeFieldValue(num, typ, b)
			if l < 0 {
				return
			}
			b = b[l:]
		}
	}
}
