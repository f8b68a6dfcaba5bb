package plugin

import "strings"

// matchedRoute is http.route: the route path Kong's router matched, the
// route's template in Kong's own syntax (a regex path keeps its "~").
// Serialize gives the route's paths, not which one matched, so with
// several paths it is the longest plain path that prefixes the request
// path (the router's rule among prefix paths), else the route's only
// regex path; "" when that leaves a doubt (several regex paths, more paths
// than are kept, or a route without paths: routed by host or header),
// since a wrong route would mislead more than none.
func matchedRoute(e *logEntry, path string) string {
	n := e.routePathCount
	if n == 1 {
		return e.routePaths[0]
	}
	kept := e.routePaths[:min(n, maxRoutePaths)]
	best, regex, regexes := "", "", 0
	for _, p := range kept {
		if strings.HasPrefix(p, "~") {
			regex = p
			regexes++
			continue
		}
		if strings.HasPrefix(path, p) && len(p) > len(best) {
			best = p
		}
	}
	switch {
	case best != "":
		return best
	case regexes == 1 && n <= maxRoutePaths:
		return regex
	}
	return ""
}
