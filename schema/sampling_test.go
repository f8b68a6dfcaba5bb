package schema

import (
	"strings"
	"testing"
)

// sampling_strategy loads with Kong's names; left out it is this plugin's
// parent-based default, written out it means what Kong means by it.
func TestSamplingStrategy(t *testing.T) {
	resetEnvForTest(noEnv)
	ep := `"traces_endpoint":"http://c:4318/v1/traces"`
	for js, want := range map[string]SamplingStrategy{
		`{` + ep + `}`: SamplingParentProbabilityFallback,
		`{` + ep + `,"sampling_strategy":"parent_drop_probability_fallback"}`: SamplingParentDropProbabilityFallback,
		`{` + ep + `,"sampling_strategy":"parent_probability_fallback"}`:      SamplingParentProbabilityFallback,
	} {
		c, err := decode(t, js)
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if c.SamplingStrategy != want {
			t.Errorf("%s: sampling_strategy %q, want %q", js, c.SamplingStrategy, want)
		}
	}
	_, err := decode(t, `{`+ep+`,"sampling_strategy":"always_on"}`)
	if err == nil || !strings.Contains(err.Error(), "config.sampling_strategy: must be one of") {
		t.Errorf("unknown strategy: %v", err)
	}
}
