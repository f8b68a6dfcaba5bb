package kongsim

import (
	"fmt"
	"regexp"
	"strings"
)

// router matches requests to routes by hosts, methods and paths. Paths are
// plain prefixes ("/echo" matches "/echo", "/echo/x" and "/echoes") or
// regexes when they start with "~", as in Kong's traditional router.
// Priority: routes matching on more kinds of attributes first, then the
// longest matching path, then regex_priority.
type router struct {
	routes []*compiledRoute
}

type compiledRoute struct {
	route   *Route
	regexes map[string]*regexp.Regexp
}

type routeMatch struct {
	route   *Route
	matched string // the path prefix (or regex match) that matched
	// captures are a regex path's groups from the first on, named those
	// with a name (Kong's uri_captures).
	captures []string
	named    map[string]string
}

func newRouter(routes []*Route) (*router, error) {
	rt := &router{}
	for _, r := range routes {
		cr := &compiledRoute{route: r, regexes: map[string]*regexp.Regexp{}}
		for _, p := range r.Paths {
			if re, ok := strings.CutPrefix(p, "~"); ok {
				c, err := regexp.Compile("^" + re)
				if err != nil {
					return nil, fmt.Errorf("route %s: path %q: not a valid regex: %w", r.Name, p, err)
				}
				cr.regexes[p] = c
			}
		}
		rt.routes = append(rt.routes, cr)
	}
	return rt, nil
}

func (rt *router) match(method, host, path string) *routeMatch {
	type cand struct {
		m     routeMatch
		kinds int
		plen  int
	}
	var best *cand
	for _, cr := range rt.routes {
		r := cr.route
		kinds := 0
		if len(r.Methods) > 0 {
			if !containsFold(r.Methods, method) {
				continue
			}
			kinds++
		}
		if len(r.Hosts) > 0 {
			if !hostMatches(r.Hosts, host) {
				continue
			}
			kinds++
		}
		matched, plen := "", -1
		var captures []string
		var named map[string]string
		if len(r.Paths) > 0 {
			for _, p := range r.Paths {
				if re := cr.regexes[p]; re != nil {
					if sub := re.FindStringSubmatchIndex(path); sub != nil && sub[1] > plen {
						matched, plen = path[:sub[1]], sub[1]
						captures, named = regexCaptures(re, path, sub)
					}
				} else if strings.HasPrefix(path, p) && len(p) > plen {
					matched, plen, captures, named = p, len(p), nil, nil
				}
			}
			if plen < 0 {
				continue
			}
			kinds++
		}
		c := &cand{m: routeMatch{route: r, matched: matched, captures: captures, named: named}, kinds: kinds, plen: plen}
		if best == nil || c.kinds > best.kinds ||
			(c.kinds == best.kinds && (c.plen > best.plen ||
				(c.plen == best.plen && r.RegexPriority > best.m.route.RegexPriority))) {
			best = c
		}
	}
	if best == nil {
		return nil
	}
	return &best.m
}

// regexCaptures reads a match's groups; a group that did not take part is
// "".
func regexCaptures(re *regexp.Regexp, path string, sub []int) ([]string, map[string]string) {
	var captures []string
	named := map[string]string{}
	for i := 1; i < len(sub)/2; i++ {
		v := ""
		if sub[2*i] >= 0 {
			v = path[sub[2*i]:sub[2*i+1]]
		}
		captures = append(captures, v)
		if n := re.SubexpNames()[i]; n != "" {
			named[n] = v
		}
	}
	return captures, named
}

func containsFold(l []string, s string) bool {
	for _, e := range l {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

// hostMatches supports exact hosts and one wildcard at either end
// ("*.example.com", "example.*").
func hostMatches(hosts []string, host string) bool {
	for _, h := range hosts {
		h = strings.ToLower(h)
		switch {
		case h == host:
			return true
		case strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]):
			return true
		case strings.HasSuffix(h, ".*") && strings.HasPrefix(host, h[:len(h)-1]):
			return true
		}
	}
	return false
}

// upstreamPath joins the service path and the request path as Kong's
// path_handling "v0" does, after strip_path removed the matched prefix.
func upstreamPath(servicePath, requestPath, matched string, strip bool) string {
	rest := requestPath
	if strip && matched != "" {
		rest = strings.TrimPrefix(requestPath, matched)
	}
	if servicePath == "" {
		servicePath = "/"
	}
	switch {
	case rest == "":
		return servicePath
	case strings.HasSuffix(servicePath, "/") && strings.HasPrefix(rest, "/"):
		return servicePath + rest[1:]
	case !strings.HasSuffix(servicePath, "/") && !strings.HasPrefix(rest, "/"):
		return servicePath + "/" + rest
	}
	return servicePath + rest
}

// pluginScopeRank orders plugin entities most specific first (route+service,
// route, service, global): Kong's precedence, without consumers.
func pluginScopeRank(p *Plugin) int {
	switch {
	case p.RouteID != "" && p.ServiceID != "":
		return 0
	case p.RouteID != "":
		return 1
	case p.ServiceID != "":
		return 2
	}
	return 3
}
