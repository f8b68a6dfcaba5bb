package plugin

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// handoffKey is the serialize key under which the access phase leaves the
// request's trace state for the log phase (kong.log.set_serialize_value), so
// the log handler's one kong.log.serialize call brings it back for free.
const handoffKey = "trace_exporter"

// handoff is the state chosen in the access phase.
//
// Wire form (a string, the cheapest value for Kong to carry and for us to
// parse): "2;trace;root;upstream;parent;flags;accessUnixMs;pending;tracestate",
// ids in lowercase hex, parent empty when there was none, pending what the
// log phase still has to decide about sampling (empty when the decision is
// final), tracestate last because it may contain anything but a line
// break. Version 1 had no pending field.
type handoff struct {
	ids          traceIDs
	accessUnixMs int64
	pending      string
}

const (
	handoffVersion   = "2"
	handoffVersionV1 = "1"
)

func (h *handoff) sampled() bool { return h.ids.flags&1 == 1 }

func (h *handoff) encode() string {
	var b strings.Builder
	b.Grow(2 + 32 + 3*17 + 4 + 14 + len(h.pending) + 1 + len(h.ids.traceState))
	b.WriteString(handoffVersion)
	b.WriteByte(';')
	b.WriteString(h.ids.trace.String())
	b.WriteByte(';')
	b.WriteString(h.ids.root.String())
	b.WriteByte(';')
	b.WriteString(h.ids.upstream.String())
	b.WriteByte(';')
	if h.ids.parent.IsValid() {
		b.WriteString(h.ids.parent.String())
	}
	b.WriteByte(';')
	b.WriteString(hex.EncodeToString([]byte{h.ids.flags}))
	b.WriteByte(';')
	b.WriteString(strconv.FormatInt(h.accessUnixMs, 10))
	b.WriteByte(';')
	b.WriteString(h.pending)
	b.WriteByte(';')
	b.WriteString(h.ids.traceState)
	return b.String()
}

var errBadHandoff = errors.New("malformed trace_exporter hand-off value")

func decodeHandoff(s string) (handoff, error) {
	var h handoff
	// Split into the fields without allocating (this runs per request):
	// the version's, then the tracestate (which may hold ";") as the rest.
	var parts [9]string
	n := len(parts)
	if strings.HasPrefix(s, handoffVersionV1+";") {
		n-- // no pending field
	} else if !strings.HasPrefix(s, handoffVersion+";") {
		return h, errBadHandoff
	}
	rest := s
	for i := range n - 1 {
		var ok bool
		if parts[i], rest, ok = strings.Cut(rest, ";"); !ok {
			return h, errBadHandoff
		}
	}
	if n == len(parts) {
		h.pending = parts[7]
	}
	parts[8] = rest
	if !decodeHex(h.ids.trace[:], parts[1]) || !h.ids.trace.IsValid() ||
		!decodeHex(h.ids.root[:], parts[2]) || !decodeHex(h.ids.upstream[:], parts[3]) {
		return h, errBadHandoff
	}
	if parts[4] != "" && !decodeHex(h.ids.parent[:], parts[4]) {
		return h, errBadHandoff
	}
	var flags [1]byte
	if !decodeHex(flags[:], parts[5]) {
		return h, errBadHandoff
	}
	h.ids.flags = flags[0]
	ms, err := strconv.ParseInt(parts[6], 10, 64)
	if err != nil {
		return h, errBadHandoff
	}
	h.accessUnixMs = ms
	h.ids.traceState = parts[8]
	return h, nil
}

func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}
