//go:build koala_go

package gid

import (
	"runtime"

	// Without the overlay the koala_go build stops here, naming what is missing.
	koala_go_needs_the_overlay_see_koala_go_flags "runtime"
)

const _ = koala_go_needs_the_overlay_see_koala_go_flags.KoalaPatchVersion

// Enabled reports whether the binary was built with the koala_go tag (and the overlay).
const Enabled = true

// Current returns the goroutine's id, its parent's id and its owner (0: none).
func Current() (goid, parent, owner uint64) { return runtime.KoalaIDs() }

// SetOwner sets the current goroutine's owner; goroutines it starts later inherit it.
func SetOwner(owner uint64) { runtime.KoalaSetOwner(owner) }

// Flags returns the current goroutine's flags.
func Flags() uint32 { return runtime.KoalaFlags() }

// SetFlags sets the current goroutine's flags.
func SetFlags(f uint32) { runtime.KoalaSetFlags(f) }

// SetOnExit sets the function called when a goroutine with FlagTracked exits.
func SetOnExit(f func(goid, owner uint64)) { runtime.KoalaSetOnExit(f) }

// An overlay made by another go-hooks version stops the build here rather than at a missing
// runtime.Koala* name: "koala go flags" makes one for this version.
const koala_overlay_is_from_another_go_hooks_version_rerun_koala_go_flags = uint(overlayVersion-runtime.KoalaPatchVersion) +
	uint(runtime.KoalaPatchVersion-overlayVersion)

// overlayVersion is the runtime patch version this go-hooks is written for (overlay.PatchVersion).
const overlayVersion = 2
