//go:build koala_go

package hooks

import (
	"net"
	"sync"

	"github.com/koala-replay/koala/go-hooks/internal/agent"
	"github.com/koala-replay/koala/go-hooks/internal/gid"
)

var installOnce sync.Once

// Install installs the runtime and net hooks and starts the agent. Idempotent.
func Install() {
	installOnce.Do(func() {
		installHooks()
		// The agent reads KOALA_SUT_NAME and KOALA_AGENT_GRPC_ADDR itself.
		agent.Start(agent.Config{Mode: AllowedMode()})
	})
}

func installHooks() {
	gid.SetOnExit(onExit)
	net.SetKoalaHooks(&net.KoalaHooks{
		Recording: reportingAllBytes,
		Connect:   onConnect,
		Accept:    onAccept,
		IO:        onIO,
		Datagram:  onDatagram,
		Close:     onClose,
	})
}
