package kongsim

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// slowWriter stands for a slow reader of the plugin's output (a test log):
// the capture lags the process.
type slowWriter struct{}

func (slowWriter) Write(p []byte) (int, error) {
	time.Sleep(2 * time.Millisecond)
	return len(p), nil
}

// stop returns only once the stopped process's output has been read to its
// end: a test reads the plugin's shutdown report right after Close.
func TestStopReturnsWithTheWholeOutput(t *testing.T) {
	script := filepath.Join(t.TempDir(), "server.sh")
	body := "#!/bin/sh\ni=0\nwhile [ $i -lt 300 ]; do echo \"line $i\"; i=$((i+1)); done\necho last line\nexec sleep 30\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := startProcess(script, t.TempDir(), "sh", slowWriter{}, slog.New(slog.NewTextHandler(io.Discard, nil)), func() {})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the script has written everything and sleeps
	p.stop(5 * time.Second)
	out := p.output()
	if len(out) == 0 || !strings.HasSuffix(out[len(out)-1], "last line") {
		t.Fatalf("after stop the output holds %d lines, the last %q; want 301 ending with the script's last line", len(out), lastOf(out))
	}
}

func lastOf(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}
