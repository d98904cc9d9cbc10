//go:build koala_go && !race

package agent

import (
	"runtime"
	"unsafe"
)

// queueLock is the runtime's own mutex (exported by koala's runtime patch): unlike sync.Mutex it
// may be taken on the system stack, where push does its work.
type queueLock = runtime.KoalaMutex

// onSystemStack runs fn(arg) on the thread's system stack, so the work adds nothing to the depth
// of the goroutine that called it: a hook runs at the deepest point of the SUT's calls, and every
// byte it adds there can make the runtime grow (copy) that goroutine's stack. arg must stay valid
// until fn returns and is not retained.
func onSystemStack(fn func(unsafe.Pointer), arg unsafe.Pointer) { runtime.KoalaSystemstack(fn, arg) }
