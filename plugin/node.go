package plugin

import (
	"strings"
	"sync"
	"sync/atomic"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
)

// kongNode is what the plugin server learns about the Kong node it serves,
// once per process, for the resource Kong's own plugin reports:
// service.instance.id = the node id, one kong.node.get_id call on the first
// logged request (no call on any other request), and service.version = Kong's
// version, read from the Via or Server header Kong adds to responses, found
// in the serialize payload the log handler reads anyway. Kong's
// `headers = off` removes both; after versionTries payloads without one the
// plugin stops looking.
type kongNode struct {
	idState  atomic.Int32 // idUnknown, idKnown, idFailed
	fetching sync.Mutex   // held by the request asking for the id
	idFails  int          // under fetching
	id       atomic.Pointer[string]
	version  atomic.Pointer[string]
	versions atomic.Int32 // payloads looked at for the version
}

const (
	idUnknown int32 = iota
	idKnown
	idFailed // kong.node.get_id failed idAttempts times: not asked again
)

const (
	idAttempts   = 3
	versionTries = 100
)

// ensureID asks Kong for its node id unless it is known or failed too
// often. Requests that arrive while another one asks wait for its answer
// (one round trip, once per process), so that their spans carry the id
// too; once known it costs an atomic load. It reports whether it made a
// call that failed.
func (n *kongNode) ensureID(k kongCaller) (failed bool) {
	if n.idState.Load() != idUnknown {
		return false
	}
	n.fetching.Lock()
	defer n.fetching.Unlock()
	if n.idState.Load() != idUnknown {
		return false // answered while this request waited
	}
	var out kpp.String
	if err := k.Ask(mNodeID, nil, &out); err != nil || out.V == "" {
		if n.idFails++; n.idFails >= idAttempts {
			n.idState.Store(idFailed)
		}
		return true
	}
	id := out.V
	n.id.Store(&id)
	n.idState.Store(idKnown)
	return false
}

// ID is the node id, "" until known.
func (n *kongNode) ID() string {
	if p := n.id.Load(); p != nil {
		return *p
	}
	return ""
}

// Version is Kong's version ("3.9.1"), "" until known.
func (n *kongNode) Version() string {
	if p := n.version.Load(); p != nil {
		return *p
	}
	return ""
}

// learnVersion reads Kong's version from a serialize payload's response
// headers until it is known: the last "kong/X" of Via (Kong appends itself
// to an upstream's Via), else Server when Kong produced the response itself
// (an upstream's Server header is the upstream's, maybe another Kong's).
func (n *kongNode) learnVersion(payload string) {
	if n.version.Load() != nil || n.versions.Load() >= versionTries {
		return
	}
	n.versions.Add(1)
	if v := kongVersionOf(payload); v != "" {
		n.version.Store(&v)
	}
}

func kongVersionOf(payload string) string {
	sc := scanner{s: payload}
	var a arena
	var via, server, source string
	for more := sc.enter('}'); more; more = sc.next('}') {
		switch sc.field() {
		case "response":
			if sc.peek() != '{' {
				break
			}
			for more := sc.enter('}'); more; more = sc.next('}') {
				if sc.field() != "headers" || sc.peek() != '{' {
					sc.skip()
					continue
				}
				for more := sc.enter('}'); more; more = sc.next('}') {
					switch sc.field() {
					case "via":
						via = strings.Join(sc.headerValues(&a), ", ")
					case "server":
						server = sc.firstHeader(&a)
					default:
						sc.skip()
					}
				}
			}
			continue
		case "source":
			source = sc.str(&a)
			continue
		}
		sc.skip()
	}
	if !sc.ok() {
		return ""
	}
	if i := strings.LastIndex(via, "kong/"); i >= 0 {
		return versionToken(via[i+len("kong/"):])
	}
	if source != "upstream" {
		if v, ok := strings.CutPrefix(server, "kong/"); ok {
			return versionToken(v)
		}
	}
	return ""
}

// versionToken is the version at the start of s: digits and dots.
func versionToken(s string) string {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	return s[:i]
}
