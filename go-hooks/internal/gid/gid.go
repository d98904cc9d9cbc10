// Package gid is the current goroutine's koala identity: id, parent, owner and flags, kept by
// the patched runtime and inherited by the goroutines it starts. Without the koala_go tag
// every function is a no-op and ids are 0.
package gid

// Flags on a goroutine. FlagTracked is never inherited; the others are.
const (
	// FlagTracked: the goroutine did traced I/O as its own owner (no owner, or itself), so its
	// exit is reported: the gateway keys sessions by owner, and an exit ends the one keyed by it.
	FlagTracked uint32 = 1 << 0
	// FlagIgnore: the goroutine and its children are never recorded (koala's own goroutines).
	FlagIgnore uint32 = 1 << 1
)

// ExcludeCurrent marks the current goroutine, and every goroutine it starts from now on, as
// never recorded nor redirected. The agent calls it first thing in its own goroutines.
func ExcludeCurrent() { SetFlags(Flags() | FlagIgnore) }

// Excluded reports whether the current goroutine is excluded.
func Excluded() bool { return Flags()&FlagIgnore != 0 }

// Effective is the id whose session the current goroutine's events belong to: its owner, or
// itself when it has none.
func Effective() uint64 {
	goid, _, owner := Current()
	if owner != 0 {
		return owner
	}
	return goid
}
