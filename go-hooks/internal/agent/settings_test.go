package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSettingsDefaults(t *testing.T) {
	var warned []string
	s := loadSettings(envOf(nil), func(f string, _ ...any) { warned = append(warned, f) })
	exe, _ := os.Executable()
	if s.gatewayAddr != "127.0.0.1:2517" || s.mode != pb.Mode_MODE_RECORD || s.bufferSize != 32<<20 || s.sendStall != time.Minute ||
		s.sutName != filepath.Base(exe) || s.outboundAddr != "" || len(s.bypass) != 0 || len(warned) != 0 {
		t.Errorf("defaults = %+v, warnings %v", s, warned)
	}
}

func TestSettingsFromEnvironment(t *testing.T) {
	s := loadSettings(envOf(map[string]string{
		"KOALA_AGENT_GRPC_ADDR":      "127.0.0.1:9",
		"KOALA_SUT_NAME":             "svc",
		"KOALA_MODE":                 "record+replay",
		"KOALA_OUTBOUND_ADDR":        "127.0.0.1:8",
		"KOALA_OUTBOUND_BYPASS_ADDR": " :53, 10.0.0.1:80 ,",
		"KOALA_BUFFER_SIZE":          "1048576",
		"KOALA_BATCH_DELAY_MS":       "10",
		"KOALA_SEND_STALL_MS":        "2500",
		"KOALA_LOG_LEVEL":            "debug",
	}), func(string, ...any) { t.Error("unexpected warning") })
	if s.gatewayAddr != "127.0.0.1:9" || s.sutName != "svc" || s.mode != pb.Mode_MODE_RECORD_AND_REPLAY ||
		s.outboundAddr != "127.0.0.1:8" || len(s.bypass) != 2 || s.bypass[0] != ":53" || s.bufferSize != 1<<20 ||
		s.batchDelay != 10*time.Millisecond || s.sendStall != 2500*time.Millisecond || s.logLevel != levelDebug {
		t.Errorf("settings = %+v", s)
	}
}

func TestBadSettingsWarnAndFallBack(t *testing.T) {
	n := 0
	s := loadSettings(envOf(map[string]string{"KOALA_MODE": "sometimes", "KOALA_BUFFER_SIZE": "lots", "KOALA_BATCH_DELAY_MS": "0", "KOALA_SEND_STALL_MS": "99", "KOALA_LOG_LEVEL": "loud"}),
		func(string, ...any) { n++ })
	if n != 5 || s.mode != pb.Mode_MODE_RECORD || s.bufferSize != defaultBufferSize || s.batchDelay != recordFlushDelay ||
		s.sendStall != defaultSendStall || s.logLevel != levelInfo {
		t.Errorf("%d warnings, settings %+v", n, s)
	}
}

func TestExplicitOutboundAddrWinsOverGateway(t *testing.T) {
	a := newAgent(Config{}, envOf(map[string]string{"KOALA_OUTBOUND_ADDR": "127.0.0.1:1111"}))
	a.log = newLogger(levelError, "")
	a.applyConfig(&pb.AgentConfig{OutboundAddr: "127.0.0.1:2222"})
	if got := a.outboundAddr(); got != "127.0.0.1:1111" {
		t.Errorf("outbound = %q", got)
	}
	b := newAgent(Config{}, envOf(nil))
	if got := b.outboundAddr(); got != defaultOutboundAddr {
		t.Errorf("default outbound = %q", got)
	}
}

func TestBypassMatching(t *testing.T) {
	s := newBypassSet([]string{":53", "127.0.0.1:2517", "localhost:9000", "[::1]:80", "garbage"})
	for addr, want := range map[string]bool{
		"8.8.8.8:53":     true,
		"127.0.0.1:2517": true,
		"127.0.0.2:2517": false,
		"10.1.1.1:9000":  true, // non-IP entries match by port
		"[::1]:80":       true,
		"127.0.0.1:80":   false,
		"nonsense":       false,
		"":               false,
	} {
		if got := s.contains(addr); got != want {
			t.Errorf("contains(%q) = %v, want %v", addr, got, want)
		}
	}
}
