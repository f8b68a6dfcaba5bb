package jaegertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The policy is exercised against a throw-away repository whose build.sh
// only records that it ran, so no real (3.5-minute) build happens here.
func fakeRepo(t *testing.T) (root, marker string) {
	t.Helper()
	root = t.TempDir()
	marker = filepath.Join(root, "built")
	script := `#!/bin/sh
set -eu
mkdir -p "$(dirname "$1")"
printf '#!/bin/sh\n' > "$1"
chmod +x "$1"
echo run >> "` + marker + `"
echo "fake build of $1"
`
	dir := filepath.Join(root, "tools", "jaeger")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "build.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return root, marker
}

func TestBinaryPolicyBuildsOnceWhenMissing(t *testing.T) {
	root, marker := fakeRepo(t)
	t.Setenv(envBuild, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var progress strings.Builder
	bin, err := ensureBinaryIn(ctx, root, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if bin != filepath.Join(root, ".cache", "bin", "jaeger") || !isExecutable(bin) {
		t.Fatalf("binary %s missing or not executable", bin)
	}
	if !strings.Contains(progress.String(), "fake build of "+bin) {
		t.Errorf("build output not passed on: %q", progress.String())
	}
	if _, err := ensureBinaryIn(ctx, root, nil); err != nil { // present now: no second build
		t.Fatal(err)
	}
	runs, _ := os.ReadFile(marker)
	if strings.Count(string(runs), "run") != 1 {
		t.Errorf("build script ran %d times, want 1", strings.Count(string(runs), "run"))
	}
}

func TestBinaryPolicyNoBuild(t *testing.T) {
	root, marker := fakeRepo(t)
	t.Setenv(envBuild, "0")
	_, err := ensureBinaryIn(context.Background(), root, nil)
	if err == nil || !strings.Contains(err.Error(), "build.sh") || !strings.Contains(err.Error(), "JAEGERTEST_BUILD=0") {
		t.Errorf("err = %v, want a message naming the script and the variable", err)
	}
	if _, statErr := os.Stat(marker); statErr == nil {
		t.Error("built although JAEGERTEST_BUILD=0")
	}
}

func TestBinaryPolicyExplicitPath(t *testing.T) {
	t.Setenv(envBinary, filepath.Join(t.TempDir(), "nope"))
	if _, err := EnsureBinary(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "JAEGER_BIN") {
		t.Errorf("missing JAEGER_BIN file: %v", err)
	}
}

func TestRepoRootFindsTheBuildScript(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "tools", "jaeger", "config.yaml")); err != nil {
		t.Errorf("root %s has no tools/jaeger/config.yaml: %v", root, err)
	}
}

// TestBuildScriptSkipsWhenBuilt runs the real tools/jaeger/build.sh on the
// binary the other tests use: it must recognise it (same Jaeger version as
// tools/jaeger/go.mod) and return at once without rebuilding.
func TestBuildScriptSkipsWhenBuilt(t *testing.T) {
	if os.Getenv(envBinary) != "" {
		t.Skip("JAEGER_BIN points elsewhere")
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := EnsureBinary(context.Background(), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := exec.Command("sh", filepath.Join(root, "tools", "jaeger", "build.sh")).CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "already built at "+bin) {
		t.Errorf("build.sh output: %q", out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("build.sh took %v for an existing binary", d)
	}
	after, err := os.Stat(bin)
	if err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("binary was rewritten: %v", err)
	}
}
