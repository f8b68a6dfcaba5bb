package otlphttp

import (
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
)

func TestMain(m *testing.M) { exportertest.Main(m) }
