package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/trace-exporter/trace-exporter/test/testutil"
)

// pluginName is the plugin's name everywhere: the binary, the dump, kong.yml.
const pluginName = "trace-exporter"

// kongImagePrefix is the kong image's prefix when KONG_PREFIX is unset
// (its entrypoint defaults it to /usr/local/kong).
const kongImagePrefix = "/usr/local/kong"

var rootOnce struct {
	sync.Once
	dir string
	err error
}

// repoRoot is the directory holding go.mod, above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootOnce.err = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rootOnce.dir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootOnce.err = fmt.Errorf("no go.mod above the working directory")
				return
			}
			dir = parent
		}
	})
	if rootOnce.err != nil {
		t.Fatal(rootOnce.err)
	}
	return rootOnce.dir
}

func readFile(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// readYAML decodes a repository file into generic values (maps with string
// keys, []any, string, int, float64, bool).
func readYAML(t testing.TB, rel string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := yaml.Unmarshal(readFile(t, rel), &v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return v
}

// Accessors for generic YAML values; a wrong shape fails the test.

func asMap(t testing.TB, v any, what string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: want a mapping, got %T (%v)", what, v, v)
	}
	return m
}

func asList(t testing.TB, v any, what string) []any {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("%s: want a list, got %T (%v)", what, v, v)
	}
	return l
}

func asString(t testing.TB, v any, what string) string {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s: want a string, got %T (%v)", what, v, v)
	}
	return s
}

func asStrings(t testing.TB, v any, what string) []string {
	t.Helper()
	var out []string
	for i, e := range asList(t, v, what) {
		out = append(out, asString(t, e, fmt.Sprintf("%s[%d]", what, i)))
	}
	return out
}

// toJSON converts a YAML-decoded value into the JSON Kong would send.
func toJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("to JSON: %v", err)
	}
	return data
}

// process is a child process whose combined output is kept for messages.
type process struct {
	cmd    *exec.Cmd
	out    *testutil.SyncBuffer
	exited chan struct{}
	err    error
}

// startProcess runs argv in its own process group and kills the group at
// cleanup if it is still running.
func startProcess(t testing.TB, env []string, argv ...string) *process {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	p := &process{cmd: cmd, out: &testutil.SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
	})
	return p
}

// stop sends SIGTERM and waits up to timeout for the process to end.
func (p *process) stop(t testing.TB, timeout time.Duration) error {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("still running %v after SIGTERM; output:\n%s", timeout, p.out)
	}
}

// runCommand runs argv with a deadline and returns its stdout; stderr is
// part of the error.
func runCommand(ctx context.Context, dir string, env []string, argv ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, stderr.String())
	}
	return out, nil
}

// simulateBuildStage runs a Dockerfile build stage here, without Docker:
// ARG, ENV, WORKDIR, COPY (from the build context, honouring its
// .dockerignore) and RUN (through sh, with ARGs and ENVs in the environment
// as Docker provides them). Container paths live under a fresh directory;
// the RUN commands' absolute output paths (outPrefix, e.g. "/out/") are
// mapped into it. It returns that directory. BuildKit's TARGETOS and
// TARGETARCH are this machine's.
func simulateBuildStage(t *testing.T, st stage, ignore dockerignore, outPrefix string) string {
	t.Helper()
	ctxDir := repoRoot(t)
	root := t.TempDir()
	env := map[string]string{}
	workdir := "/"
	for _, in := range st.Instrs {
		switch in.Cmd {
		case "FROM":
		case "ARG":
			name, def, _ := strings.Cut(in.Args, "=")
			switch name {
			case "TARGETOS":
				env[name] = runtime.GOOS
			case "TARGETARCH":
				env[name] = runtime.GOARCH
			default:
				env[name] = def
			}
		case "ENV":
			kv, err := parseEnv(in.Args)
			if err != nil {
				t.Fatalf("line %d: %v", in.Line, err)
			}
			for k, v := range kv {
				env[k] = v
			}
		case "WORKDIR":
			workdir = filepath.Join(workdir, in.Args)
			if err := os.MkdirAll(filepath.Join(root, workdir), 0o755); err != nil {
				t.Fatal(err)
			}
		case "COPY":
			if _, ok := in.flag("from"); ok {
				t.Fatalf("line %d: COPY --from in a build stage is not simulated", in.Line)
			}
			words := strings.Fields(in.Args)
			if len(words) < 2 {
				t.Fatalf("line %d: COPY needs a source and a destination", in.Line)
			}
			dst := words[len(words)-1]
			dstIsDir := strings.HasSuffix(dst, "/") || dst == "." || len(words) > 2
			if !filepath.IsAbs(dst) {
				dst = filepath.Join(workdir, dst)
			}
			for _, src := range words[:len(words)-1] {
				copyFromContext(t, ctxDir, ignore, src, filepath.Join(root, dst), dstIsDir)
			}
		case "RUN":
			var vars []string
			for k, v := range env {
				vars = append(vars, k+"="+v)
			}
			script := strings.ReplaceAll(in.Args, " "+outPrefix, " "+filepath.Join(root, outPrefix)+"/")
			if err := os.MkdirAll(filepath.Join(root, outPrefix), 0o755); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			_, err := runCommand(ctx, filepath.Join(root, workdir), vars, "sh", "-ec", script)
			cancel()
			if err != nil {
				t.Fatalf("line %d: RUN failed: %v", in.Line, err)
			}
		default:
			t.Fatalf("line %d: %s in a build stage is not simulated", in.Line, in.Cmd)
		}
	}
	return root
}

// copyFromContext copies src (relative to the context) to dst as Docker's
// COPY does: a directory's contents go into dst, a file goes to dst (or into
// it when dst ends with a slash). Excluded paths are left out.
func copyFromContext(t *testing.T, ctxDir string, ignore dockerignore, src, dst string, dstIsDir bool) {
	t.Helper()
	srcAbs := filepath.Join(ctxDir, src)
	info, err := os.Stat(srcAbs)
	if err != nil {
		t.Fatalf("COPY %s: %v", src, err)
	}
	if !info.IsDir() {
		rel := filepath.ToSlash(filepath.Clean(src))
		if ignore.excludes(rel) {
			t.Fatalf("COPY %s: the file is excluded by the .dockerignore", src)
		}
		target := dst
		if dstIsDir {
			target = filepath.Join(dst, filepath.Base(src))
		}
		copyFile(t, srcAbs, target)
		return
	}
	err = filepath.Walk(srcAbs, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(ctxDir, p)
		if rel != "." && ignore.excludes(filepath.ToSlash(rel)) {
			if fi.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		inner, _ := filepath.Rel(srcAbs, p)
		copyFile(t, p, filepath.Join(dst, inner))
		return nil
	})
	if err != nil {
		t.Fatalf("COPY %s: %v", src, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// execArgv reads the argument of CMD/ENTRYPOINT/HEALTHCHECK CMD: the JSON
// (exec) form, or the shell form split into words.
func execArgv(t *testing.T, args string) []string {
	t.Helper()
	args = strings.TrimSpace(args)
	if strings.HasPrefix(args, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			t.Fatalf("exec form %s: %v", args, err)
		}
		return argv
	}
	argv, err := shellWords(args)
	if err != nil {
		t.Fatalf("shell form %s: %v", args, err)
	}
	return argv
}

// goBuildSetting returns a build setting (e.g. CGO_ENABLED) recorded in a
// Go binary, from `go version -m`.
func goBuildSetting(t *testing.T, binary, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := runCommand(ctx, "", nil, "go", "version", "-m", binary)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "build" {
			if k, v, ok := strings.Cut(f[1], "="); ok && k == key {
				return v
			}
		}
	}
	return ""
}
