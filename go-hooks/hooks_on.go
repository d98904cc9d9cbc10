//go:build koala_go

package koala

import (
	"net"

	"github.com/koala-replay/koala/go-hooks/internal/hooks"
)

// Enabled reports whether this binary was built with the koala_go tag.
const Enabled = true

// Delegate makes the current goroutine, and the goroutines it starts from now on, work for
// owner's session (worker pools fed by channels). Delegate(0) undoes it.
func Delegate(owner uint64) { hooks.Delegate(owner) }

// CurrentOwner returns the id of the session the current goroutine works for, to hand to a
// worker's Delegate.
func CurrentOwner() uint64 { return hooks.CurrentOwner() }

// Exclude keeps the current goroutine and the goroutines it starts from now on out of every
// recording and replay redirect.
func Exclude() { hooks.Exclude() }

// OneWay tells koala that the bytes sent so far on conn expect no response.
func OneWay(conn net.Conn) { hooks.OneWay(conn) }

// ShutdownSession ends the session the current goroutine works for.
func ShutdownSession() { hooks.ShutdownSession() }

// Recording reports whether traffic is being recorded now.
func Recording() bool { return hooks.Recording() }
