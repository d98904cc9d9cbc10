//go:build koala_go

package hooks

import (
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/koala-replay/koala/go-hooks/internal/agent"
	"github.com/koala-replay/koala/go-hooks/internal/gid"
)

var installOnce sync.Once

// Install installs the runtime and net hooks and starts the agent. Idempotent.
func Install() {
	installOnce.Do(func() {
		installHooks()
		agent.Start(agent.Config{SUTName: sutName(), Mode: AllowedMode(), GatewayAddr: gatewayAddr()})
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

func sutName() string {
	if n := os.Getenv("KOALA_SUT_NAME"); n != "" {
		return n
	}
	if exe, err := os.Executable(); err == nil {
		return filepath.Base(exe)
	}
	return filepath.Base(os.Args[0])
}

func gatewayAddr() string {
	if a := os.Getenv("KOALA_AGENT_GRPC_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:2517"
}
