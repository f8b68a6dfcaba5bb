package jaegertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// The binary policy is described in the package documentation (jaeger.go).
const (
	envBinary = "JAEGER_BIN"
	envBuild  = "JAEGERTEST_BUILD"
)

// RepoRoot returns the repository root: the nearest directory above the
// working directory (or, failing that, above this source file) holding
// tools/jaeger/build.sh.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	// The source path works for `go run`/`go test` from anywhere in the
	// tree; it is absent under -trimpath, hence only a fallback.
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "tools", "jaeger", "build.sh")); err == nil {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("jaegertest: cannot find the repository root (no tools/jaeger/build.sh above the working directory)")
}

// ConfigPath is the loopback-only Jaeger config, tools/jaeger/config.yaml.
func ConfigPath() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "tools", "jaeger", "config.yaml"), nil
}

// buildMu makes parallel tests of one package share one build.
var buildMu sync.Mutex

// EnsureBinary returns the Jaeger binary's path, building it first if the
// policy above allows. Build output goes to progress (nil: discarded).
func EnsureBinary(ctx context.Context, progress io.Writer) (string, error) {
	if p := os.Getenv(envBinary); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("jaegertest: %s=%s is not an executable file", envBinary, p)
		}
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return ensureBinaryIn(ctx, root, progress)
}

// ensureBinaryIn applies the policy to the repository at root.
func ensureBinaryIn(ctx context.Context, root string, progress io.Writer) (string, error) {
	bin := filepath.Join(root, ".cache", "bin", "jaeger")
	buildMu.Lock()
	defer buildMu.Unlock()
	if isExecutable(bin) {
		return bin, nil
	}
	script := filepath.Join(root, "tools", "jaeger", "build.sh")
	if os.Getenv(envBuild) == "0" {
		return "", fmt.Errorf("jaegertest: Jaeger binary missing at %s and %s=0: run %s (make test does)", bin, envBuild, script)
	}
	if progress == nil {
		progress = io.Discard
	}
	cmd := exec.CommandContext(ctx, "sh", script, bin)
	cmd.Stdout, cmd.Stderr = progress, progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("jaegertest: building Jaeger with %s: %w", script, err)
	}
	if !isExecutable(bin) {
		return "", fmt.Errorf("jaegertest: %s succeeded but %s is missing", script, bin)
	}
	return bin, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
