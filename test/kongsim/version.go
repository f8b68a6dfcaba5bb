package kongsim

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is the Kong 3.x release whose behaviour the emulator follows.
// Only the minor number matters: every difference the emulator knows about
// (serialize shape, JSON precision, __ws_id, error handling) changed at a
// minor release.
type Version struct{ Minor int }

// DefaultVersion is the newest release the reference describes.
var DefaultVersion = Version{Minor: 9}

// NewestVersion is the newest release the emulator accepts. The reference
// describes the open-source code up to 3.9; for 3.10 to 3.16 (whose plugin
// server and serialize code are not public) it behaves as 3.9 does, apart
// from the version Kong announces in its Via and Server headers.
var NewestVersion = Version{Minor: 16}

// ParseVersion accepts "3.9", "3.9.1" and the like; "" gives DefaultVersion.
// Kong 3.0–3.2 are refused: their plugin-server code differs in ways the
// emulator does not model (no saved req_start_time, other serialize shape).
func ParseVersion(s string) (Version, error) {
	if s == "" {
		return DefaultVersion, nil
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || parts[0] != "3" {
		return Version{}, fmt.Errorf("kong version %q: want 3.x", s)
	}
	minor, err := strconv.Atoi(parts[1])
	if err != nil || minor < 3 || minor > NewestVersion.Minor {
		return Version{}, fmt.Errorf("kong version %q: supported are 3.3 to %s", s, NewestVersion)
	}
	return Version{Minor: minor}, nil
}

func (v Version) String() string { return fmt.Sprintf("3.%d", v.Minor) }

// Release is the full version string Kong prints in Via and Server headers.
func (v Version) Release() string { return fmt.Sprintf("3.%d.0", v.Minor) }

// AtLeast reports whether v is 3.minor or newer.
func (v Version) AtLeast(minor int) bool { return v.Minor >= minor }

// jsonPrecision is lua-cjson's number precision: Kong raises it to 16 in 3.6.
func (v Version) jsonPrecision() int {
	if v.AtLeast(6) {
		return 16
	}
	return 14
}
