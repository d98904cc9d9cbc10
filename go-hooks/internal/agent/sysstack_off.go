//go:build !koala_go || race

package agent

import (
	"sync"
	"unsafe"
)

// queueLock is a plain mutex where no koala runtime patch is present (the agent's own tests) and
// under the race detector, which cannot follow instrumented code onto the system stack nor see
// the runtime's mutex.
type queueLock = sync.Mutex

// onSystemStack calls fn(arg) on the current stack.
func onSystemStack(fn func(unsafe.Pointer), arg unsafe.Pointer) { fn(arg) }
