package main

import (
	"context"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/schema"
)

func init() {
	exporter.Register("discard", func(*schema.Config, exporter.Settings) (exporter.Exporter, error) {
		return discard{}, nil
	}, exporter.DescribeEndpoint(func(*schema.Config) string { return "discard" }))
}

// discard accepts every batch and keeps nothing.
type discard struct{}

func (discard) Export(context.Context, exporter.Batch) error { return nil }
func (discard) Shutdown(context.Context) error               { return nil }
