package loadtest

import (
	"os/exec"
	"path/filepath"
	"plugin"
	"reflect"
	"testing"

	tracer "github.com/trace-exporter/trace-exporter/plugin"
)

// The test lives outside package main: a test binary of the plugin package
// itself would contain that package and plugin.Open refuses a duplicate.
//
// go-pluginserver loads the .so with plugin.Open and looks up New, Version
// and Priority; this does the same with the shared object `make legacy`
// builds.
func TestSharedObjectExportsPluginSymbols(t *testing.T) {
	so := filepath.Join(t.TempDir(), "trace-exporter.so")
	cmd := exec.Command("go", "build", "-buildmode=plugin", "-o", so, "..")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildmode=plugin: %v\n%s", err, out)
	}
	p, err := plugin.Open(so)
	if err != nil {
		t.Fatalf("plugin.Open: %v", err)
	}
	newSym, err := p.Lookup("New")
	if err != nil {
		t.Fatal(err)
	}
	newFn, ok := newSym.(func() interface{})
	if !ok {
		t.Fatalf("New has type %T, want func() interface{}", newSym)
	}
	inst := newFn()
	for _, m := range []string{"Access", "Log", "UnmarshalJSON"} {
		if _, ok := reflect.TypeOf(inst).MethodByName(m); !ok {
			t.Errorf("instance %T lacks %s", inst, m)
		}
	}
	if v, err := p.Lookup("Version"); err != nil || *v.(*string) != tracer.Version {
		t.Errorf("Version: %v %v", v, err)
	}
	if v, err := p.Lookup("Priority"); err != nil || *v.(*int) != tracer.Priority {
		t.Errorf("Priority: %v %v", v, err)
	}
}
