package agent

import "github.com/koala-replay/koala/go-hooks/internal/gid"

// excludeCurrent marks the calling goroutine (and the goroutines it starts) as the agent's own,
// so the hooks never record the agent's traffic.
func excludeCurrent() { gid.ExcludeCurrent() }
