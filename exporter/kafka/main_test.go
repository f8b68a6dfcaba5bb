package kafka

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/trace-exporter/trace-exporter/exporter/internal/exportertest"
)

// kfake leaves a goroutine per control function that was running when
// its cluster closed (TestSlowBrokerBoundedByTheAttempt, the SASL
// refusal); everything of ours must be gone.
func TestMain(m *testing.M) {
	exportertest.MainIgnoring(m, goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*Cluster).runControl.func1"))
}
