//go:build !koala_go

package gid

// Enabled reports whether the binary was built with the koala_go tag (and the overlay).
const Enabled = false

// Current returns the goroutine's id, its parent's id and its owner (0: none).
func Current() (goid, parent, owner uint64) { return 0, 0, 0 }

// SetOwner sets the current goroutine's owner; goroutines it starts later inherit it.
func SetOwner(owner uint64) {}

// Flags returns the current goroutine's flags.
func Flags() uint32 { return 0 }

// SetFlags sets the current goroutine's flags.
func SetFlags(f uint32) {}

// SetOnExit sets the function called when a goroutine with FlagTracked exits.
func SetOnExit(f func(goid, owner uint64)) {}
