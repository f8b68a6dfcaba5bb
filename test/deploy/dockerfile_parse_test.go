package deploy

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// A small Dockerfile reader for the subset our Dockerfiles use. It is strict:
// syntax it does not understand fails the test instead of being skipped, so
// a check can never pass because the parser missed something.

type instruction struct {
	Cmd   string   // upper case: FROM, RUN, COPY, ENV …
	Flags []string // leading --flag=value words, without the dashes
	Args  string   // the rest, continuation lines joined
	Line  int      // 1-based line where the instruction starts
}

// flag returns the value of --name=value, or "" and false.
func (in instruction) flag(name string) (string, bool) {
	for _, f := range in.Flags {
		if k, v, ok := strings.Cut(f, "="); ok && k == name {
			return v, true
		} else if !ok && f == name {
			return "", true
		}
	}
	return "", false
}

type stage struct {
	Image, Name, Platform string
	Instrs                []instruction
}

// env returns the stage's ENV assignments, later ones winning.
func (s stage) env(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, in := range s.Instrs {
		if in.Cmd != "ENV" {
			continue
		}
		kv, err := parseEnv(in.Args)
		if err != nil {
			t.Fatalf("line %d: ENV: %v", in.Line, err)
		}
		for k, v := range kv {
			out[k] = v
		}
	}
	return out
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Instrs {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

var knownInstructions = map[string]bool{
	"FROM": true, "ARG": true, "ENV": true, "RUN": true, "COPY": true, "WORKDIR": true,
	"USER": true, "HEALTHCHECK": true, "EXPOSE": true, "ENTRYPOINT": true, "CMD": true,
	"LABEL": true, "STOPSIGNAL": true,
}

func parseDockerfile(text string) ([]stage, error) {
	var stages []stage
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		start := i + 1
		// Join continuation lines; comment lines inside one are dropped, as
		// Docker does.
		for strings.HasSuffix(line, `\`) {
			line = strings.TrimSuffix(line, `\`)
			i++
			for i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "#") {
				i++
			}
			if i >= len(lines) {
				return nil, fmt.Errorf("line %d: continuation at end of file", start)
			}
			line += " " + strings.TrimSpace(lines[i])
		}
		word, rest, _ := strings.Cut(line, " ")
		in := instruction{Cmd: strings.ToUpper(word), Line: start}
		if !knownInstructions[in.Cmd] {
			return nil, fmt.Errorf("line %d: instruction %q not understood by this test's parser", start, word)
		}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			f, r, _ := strings.Cut(rest, " ")
			in.Flags = append(in.Flags, strings.TrimPrefix(f, "--"))
			rest = strings.TrimSpace(r)
		}
		in.Args = rest
		if in.Cmd == "FROM" {
			words := strings.Fields(rest)
			st := stage{}
			st.Platform, _ = in.flag("platform")
			switch {
			case len(words) == 1:
			case len(words) == 3 && strings.EqualFold(words[1], "AS"):
				st.Name = words[2]
			default:
				return nil, fmt.Errorf("line %d: FROM %q not understood", start, rest)
			}
			st.Image = words[0]
			stages = append(stages, st)
		}
		if len(stages) == 0 {
			if in.Cmd == "ARG" {
				continue // global ARG before the first FROM
			}
			return nil, fmt.Errorf("line %d: %s before FROM", start, in.Cmd)
		}
		cur := &stages[len(stages)-1]
		cur.Instrs = append(cur.Instrs, in)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return stages, nil
}

func readDockerfile(t *testing.T, rel string) []stage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	stages, err := parseDockerfile(string(data))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return stages
}

// parseEnv reads `ENV k=v k2="v 2"` and the legacy `ENV k some value`.
func parseEnv(args string) (map[string]string, error) {
	words, err := shellWords(args)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if len(words) > 0 && !strings.Contains(words[0], "=") {
		out[words[0]] = strings.Join(words[1:], " ")
		return out, nil
	}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", w)
		}
		out[k] = v
	}
	return out, nil
}

// shellWords splits like a POSIX shell does for plain words and quotes
// (Kong runs start_cmd through a shell, Docker parses ENV the same way).
// Variable expansion and other shell syntax are refused.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash in %q", s)
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				} else if s[i] == '$' || s[i] == '`' {
					return nil, fmt.Errorf("expansion in %q is not supported here", s)
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			inWord = true
		case strings.IndexByte("$`;|&<>(){}*?[]~", c) >= 0:
			return nil, fmt.Errorf("shell syntax %q in %q is not supported here", c, s)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// dockerignore holds the patterns of a <Dockerfile>.dockerignore. Only the
// forms we use are accepted: plain paths, globs and a leading "**/".
type dockerignore []string

func readDockerignore(t *testing.T, rel string) dockerignore {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatalf("%v (BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile)", err)
	}
	var pats dockerignore
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rest := strings.TrimPrefix(line, "**/")
		if strings.HasPrefix(line, "!") || strings.Contains(rest, "**") || (rest != line && strings.Contains(rest, "/")) {
			t.Fatalf("%s: pattern %q not supported by this test", rel, line)
		}
		if _, err := path.Match(strings.TrimPrefix(line, "**/"), "x"); err != nil {
			t.Fatalf("%s: bad pattern %q: %v", rel, line, err)
		}
		pats = append(pats, strings.TrimPrefix(path.Clean(line), "/"))
	}
	return pats
}

// excludes reports whether the context-relative slash path p (or a parent
// directory of it) is excluded.
func (d dockerignore) excludes(p string) bool {
	for q := p; q != "." && q != "/" && q != ""; q = path.Dir(q) {
		for _, pat := range d {
			if rest, ok := strings.CutPrefix(pat, "**/"); ok {
				// "**/x" matches x at any depth, including the top.
				if m, _ := path.Match(rest, path.Base(q)); m {
					return true
				}
			} else if m, _ := path.Match(pat, q); m {
				return true
			}
		}
	}
	return false
}

func TestDockerParserHelpers(t *testing.T) {
	// The checks below lean on these helpers; make sure they read what Docker
	// and a shell would.
	words, err := shellWords(`/usr/local/bin/x -kong-prefix "/a b" 'c d' e\ f`)
	if err != nil || strings.Join(words, "|") != "/usr/local/bin/x|-kong-prefix|/a b|c d|e f" {
		t.Errorf("shellWords: %q %v", words, err)
	}
	for _, bad := range []string{`a "b`, `a $HOME`, `a; b`, `a 'b`} {
		if _, err := shellWords(bad); err == nil {
			t.Errorf("shellWords(%q) accepted", bad)
		}
	}
	env, err := parseEnv(`A=1 B="x y" C=`)
	if err != nil || env["A"] != "1" || env["B"] != "x y" || env["C"] != "" || len(env) != 3 {
		t.Errorf("parseEnv: %v %v", env, err)
	}
	stages, err := parseDockerfile("ARG X\nFROM --platform=$P golang:1 AS b\nRUN a \\\n# c\n  b\nFROM k\nENV K=v\n")
	if err != nil || len(stages) != 2 || stages[0].Name != "b" || stages[0].Platform != "$P" ||
		stages[0].Instrs[1].Args != "a  b" || stages[1].env(t)["K"] != "v" {
		t.Errorf("parseDockerfile: %+v %v", stages, err)
	}
	if _, err := parseDockerfile("FROM a\nONBUILD RUN x\n"); err == nil {
		t.Error("unknown instruction accepted")
	}
	di := dockerignore{".git", "**/*.test", "bin"}
	for p, want := range map[string]bool{".git/config": true, "a/b/c.test": true, "c.test": true, "bin": true,
		"main.go": false, "docker/bin.go": false, "a/bin/x": false} {
		if di.excludes(p) != want {
			t.Errorf("excludes(%q) = %v", p, !want)
		}
	}
}
