package overlay

// PatchVersion changes whenever the patch text changes in a way go-hooks depends on; the
// runtime exports it as KoalaPatchVersion and internal/gid refuses to compile against another
// (its overlayVersion must equal this; a test checks).
const PatchVersion = 2

// runtimePatches give each goroutine koala's owner and flags, inherited by the goroutines it
// starts, and report the exit of goroutines that did traced I/O.
var runtimePatches = []FilePatch{
	{File: "runtime/runtime2.go", Ops: []Op{
		{Kind: StructEnd, Anchor: "type g struct {", Text: "koala koalaG"},
		{Kind: Append, Text: `
// koalaG is koala's per-goroutine state (go-hooks). cell, when set, holds the owner instead of
// owner; net/http points its connection loops at the owner of the request in flight.
type koalaG struct {
	owner uint64
	flags uint32
	cell  *uint64
}
`},
	}},
	{File: "runtime/proc.go", Ops: []Op{
		// newproc1 runs on the system stack: a value copy only, never a call out of the runtime.
		{Kind: After, Anchor: "newg.parentGoid = callergp.goid", Text: "; newg.koala = koalaInherit(&callergp.koala)"},
		{Kind: After, Anchor: "func goexit1() {", Text: " koalaGoexit();"},
		{Kind: Append, Text: `
// KoalaPatchVersion is the version of koala's runtime patch (go-hooks checks it at compile time).
const KoalaPatchVersion = 2

// koalaFlagTracked marks a goroutine that did traced I/O; it is the only flag not inherited.
const koalaFlagTracked = 1

var koalaOnExit func(goid, owner uint64)

func koalaOwnerOf(k *koalaG) uint64 {
	if k.cell != nil {
		if v := atomic.Load64(k.cell); v != 0 {
			return v
		}
	}
	return k.owner
}

func koalaInherit(k *koalaG) koalaG {
	return koalaG{owner: koalaOwnerOf(k), flags: k.flags &^ koalaFlagTracked}
}

// koalaGoexit runs on the exiting goroutine's own stack, before the race detector forgets it.
func koalaGoexit() {
	gp := getg()
	if gp.koala.flags&koalaFlagTracked != 0 && koalaOnExit != nil {
		koalaOnExit(gp.goid, koalaOwnerOf(&gp.koala))
	}
	gp.koala = koalaG{}
}

// KoalaIDs returns the current goroutine's id, its parent's id and its koala owner (0: none).
func KoalaIDs() (goid, parent, owner uint64) {
	gp := getg()
	return gp.goid, gp.parentGoid, koalaOwnerOf(&gp.koala)
}

// KoalaSetOwner sets the current goroutine's owner; goroutines it starts later inherit it.
func KoalaSetOwner(owner uint64) {
	gp := getg()
	gp.koala.owner = owner
	gp.koala.cell = nil
}

// KoalaSetOwnerCell makes the current goroutine's owner the value in *cell while it is not 0.
func KoalaSetOwnerCell(cell *uint64) { getg().koala.cell = cell }

// KoalaFlags returns the current goroutine's koala flags.
func KoalaFlags() uint32 { return getg().koala.flags }

// KoalaSetFlags sets the current goroutine's koala flags (all but bit 0 are inherited).
func KoalaSetFlags(flags uint32) { getg().koala.flags = flags }

// KoalaSetOnExit sets the function called when a goroutine that did traced I/O exits.
func KoalaSetOnExit(f func(goid, owner uint64)) { koalaOnExit = f }

// KoalaSystemstack runs fn(arg) on the system stack, where go-hooks records a read or write: the
// hooks then add almost nothing to the stack of the goroutine doing the I/O, which would otherwise
// grow (be copied) more often. fn must not block, allocate or panic. arg is not retained.
func KoalaSystemstack(fn func(unsafe.Pointer), arg unsafe.Pointer) {
	a := noescape(arg)
	systemstack(func() { fn(a) })
}

// KoalaMutex is a lock go-hooks can hold on the system stack (sync.Mutex may park there).
type KoalaMutex struct{ m mutex }

func (l *KoalaMutex) Lock()   { lock(&l.m) }
func (l *KoalaMutex) Unlock() { unlock(&l.m) }
`},
	}},
}
