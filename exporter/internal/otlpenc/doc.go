// Package otlpenc encodes the exporter's model as OTLP requests, protobuf
// and JSON, without generated structs, and decodes the partial-success part
// of OTLP responses. Every backend that speaks OTLP (OTLP/HTTP, OTLP/gRPC,
// file, stdout, Kafka) encodes through it, so they all send the same bytes.
package otlpenc
