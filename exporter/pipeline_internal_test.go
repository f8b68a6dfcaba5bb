package exporter

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/exporter/internal/queue"
	"github.com/trace-exporter/trace-exporter/schema"
)

// failingClose is a memory source whose Close fails, as a spool's file
// close may.
type failingClose struct{ *queue.Memory[Span] }

func (f failingClose) Close() (int, error) {
	n, _ := f.Memory.Close()
	return n, errors.New("disk gone")
}

type nopExporter struct{}

func (nopExporter) Export(context.Context, Batch) error { return nil }
func (nopExporter) Shutdown(context.Context) error      { return nil }

func init() {
	Register("test-nop", func(*schema.Config, Settings) (Exporter, error) { return nopExporter{}, nil })
}

// A failure to close the spool reaches the caller of shutdown, joined with
// the other errors, never overwritten.
func TestShutdownReportsTheSourceCloseError(t *testing.T) {
	cfg := schema.Defaults()
	cfg.Exporter = "test-nop"
	p, err := buildPipeline(traces, "k", &cfg, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p.src = failingClose{queue.NewMemory(queue.Options[Span]{MaxItems: 10, MaxBytes: 1 << 20, Size: traces.size})}
	p.start(1)
	err = p.shutdown(context.Background())
	if err == nil || !strings.Contains(err.Error(), "closing spool: disk gone") {
		t.Fatalf("shutdown error %v, want the close error", err)
	}
}

// The memory a pipeline reserves in its registry's bound is returned when
// it shuts down, as when it is reaped.
func TestMemoryReservationReturnedAtShutdown(t *testing.T) {
	reg := NewRegistry(RegistryOptions{})
	cfg := schema.Defaults()
	cfg.Exporter = "test-nop"
	if _, err := reg.Acquire(&cfg); err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.Queue.MaxBytes = 1 << 20
	if _, err := reg.Acquire(&other); err != nil {
		t.Fatal(err)
	}
	if got, want := reg.memory.total, int64(cfg.Queue.MaxBytes+other.Queue.MaxBytes); got != want {
		t.Fatalf("reserved %d, want %d", got, want)
	}
	if err := reg.ShutdownAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if reg.memory.total != 0 {
		t.Fatalf("%d bytes still reserved after shutdown", reg.memory.total)
	}
	if err := reg.ShutdownAll(context.Background()); err != nil || reg.memory.total != 0 {
		t.Fatalf("a second shutdown must not release twice: %d (%v)", reg.memory.total, err)
	}
}
