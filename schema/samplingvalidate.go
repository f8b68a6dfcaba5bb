package schema

import (
	"fmt"
	"strings"
)

// samplingRuleConditions are the fields of a sampling rule that select
// requests; a rule needs one, or it would shadow the default sampler.
var samplingRuleConditions = []string{"route_name", "service_name", "method", "path_prefix", "header_name"}

// samplingRuleChecks are a sampling rule's rules across its fields as Kong
// entity checks (dumped on the rule record), so Kong refuses them when the
// config is written; checkSampling is their Go twin.
func samplingRuleChecks() []any {
	return []any{
		map[string]any{"at_least_one_of": toAny(samplingRuleConditions)},
		// Kong skips conditional_at_least_one_of when its if_field is
		// absent, so a rule without header_value passes.
		map[string]any{"conditional_at_least_one_of": map[string]any{
			"if_field": "header_value", "if_match": map[string]any{"len_min": 1},
			"then_at_least_one_of": []any{"header_name"},
			"then_err":             "header_value needs header_name",
		}},
	}
}

// checkSampling checks what the sampling rules' entity checks say.
func checkSampling(c *Config, add func(string, string, ...any)) {
	for i, r := range c.SamplingRules {
		field := fmt.Sprintf("sampling_rules[%d]", i+1)
		if !r.HasRequestLineCondition() && r.HeaderName == "" {
			add(field, "needs at least one condition (%s); the default sampler already covers every request", strings.Join(samplingRuleConditions, ", "))
		}
		if r.HeaderValue != "" && r.HeaderName == "" {
			add(field+".header_value", "needs header_name")
		}
	}
}

func methodTokenProblem(s string) string {
	if validHeaderName(s) { // a method is a token too
		return ""
	}
	return fmt.Sprintf("%q is not a valid HTTP method", s)
}

// upperCaseMethodProblem is luaMethod in Go.
func upperCaseMethodProblem(s string) string {
	if strings.ContainsFunc(s, func(c rune) bool { return c < 'A' || c > 'Z' }) {
		return fmt.Sprintf("%q is not an upper-case method name", s)
	}
	return ""
}

// pathPrefixProblem is luaPathPrefix in Go.
func pathPrefixProblem(s string) string {
	if !strings.HasPrefix(s, "/") {
		return fmt.Sprintf("%q does not start with /", s)
	}
	return ""
}

// remoteSamplingEndpointProblem: an http(s) URL (urlRule) that leaves the
// service parameter to remote_sampling.service_name.
func remoteSamplingEndpointProblem(s string) string {
	if p := urlProblem(s); p != "" {
		return p
	}
	if hasServiceParam(s) {
		return serviceParamRules[0].Err
	}
	return ""
}

// serviceParamRules refuse a service query parameter in the remote sampling
// endpoint: the poller appends its own (Lua patterns have no alternation,
// so "service=" and a bare "service" at the end are two rules).
var serviceParamRules = []MatchRule{
	{Pattern: "[?&]service[=&#]", Err: "leave the service parameter out: it is remote_sampling.service_name"},
	{Pattern: "[?&]service$", Err: "leave the service parameter out: it is remote_sampling.service_name"},
}

// hasServiceParam is serviceParamRules in Go.
func hasServiceParam(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '?' && s[i] != '&' {
			continue
		}
		rest, ok := strings.CutPrefix(s[i+1:], "service")
		if ok && (rest == "" || strings.ContainsRune("=&#", rune(rest[0]))) {
			return true
		}
	}
	return false
}
