package otlpsink

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// OTLP/JSON differs from protojson in one way that matters here: trace and
// span ids are hex strings, where protojson writes and expects base64 for
// bytes fields. These helpers convert the id fields on the way in and out;
// every other bytes field (AnyValue.bytesValue) stays base64 as OTLP says.
// https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding

// idFields are the id keys of Span and Span.Link, in both spellings
// protojson accepts (OTLP requires lowerCamelCase; be lenient on input).
var idFields = map[string]bool{
	"traceId": true, "spanId": true, "parentSpanId": true,
	"trace_id": true, "span_id": true, "parent_span_id": true,
}

var jsonMarshal = protojson.MarshalOptions{UseEnumNumbers: true}

// OTLP: receivers must ignore unknown fields.
var jsonUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// MarshalJSON encodes an OTLP message as OTLP/JSON (hex ids, enums as numbers).
func MarshalJSON(m proto.Message) ([]byte, error) {
	b, err := jsonMarshal.Marshal(m)
	if err != nil {
		return nil, err
	}
	return convertIDs(b, base64ToHex)
}

// UnmarshalJSON decodes OTLP/JSON (hex ids) into m.
func UnmarshalJSON(data []byte, m proto.Message) error {
	b, err := convertIDs(data, hexToBase64)
	if err != nil {
		return err
	}
	return jsonUnmarshal.Unmarshal(b, m)
}

func base64ToHex(key, s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("%s %q: not base64: %w", key, s, err)
	}
	return hex.EncodeToString(b), nil
}

func hexToBase64(key, s string) (string, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("%s %q: OTLP/JSON ids must be hex: %w", key, s, err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// convertIDs rewrites every string value under an id key anywhere in the
// document. Numbers are kept as written (UseNumber) so 64-bit timestamps
// and intValues survive the round trip exactly.
func convertIDs(data []byte, conv func(key, s string) (string, error)) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid JSON: data after the top-level value")
	}
	if err := walkIDs(doc, conv); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

func walkIDs(v any, conv func(key, s string) (string, error)) error {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if s, ok := child.(string); ok && idFields[k] {
				out, err := conv(k, s)
				if err != nil {
					return err
				}
				x[k] = out
				continue
			}
			if err := walkIDs(child, conv); err != nil {
				return err
			}
		}
	case []any:
		for _, child := range x {
			if err := walkIDs(child, conv); err != nil {
				return err
			}
		}
	}
	return nil
}
