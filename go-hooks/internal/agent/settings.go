package agent

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

const (
	defaultGatewayAddr  = "127.0.0.1:2517"
	defaultOutboundAddr = "127.0.0.1:2516"
	defaultBufferSize   = 32 << 20
	// A buffer smaller than one maximal event would drop every large payload.
	minBufferSize = 64 << 10
)

// settings is the agent's environment, read once at Start (docs/architecture.md, "Environment
// read by both agents"). A bad value is logged once and replaced by its default: the agent never
// fails the SUT.
type settings struct {
	gatewayAddr  string
	sutName      string
	mode         pb.Mode // what KOALA_MODE asks for, before the gateway says anything
	outboundAddr string  // "" when KOALA_OUTBOUND_ADDR is unset
	bypass       []string
	bufferSize   int
	batchDelay   time.Duration // how long a partial batch waits while only recording
	sendStall    time.Duration // how long a batch may wait for the gateway to take it
	logLevel     level
	logFile      string
}

func loadSettings(getenv func(string) string, warn func(string, ...any)) settings {
	s := settings{
		gatewayAddr:  getenv("KOALA_AGENT_GRPC_ADDR"),
		sutName:      getenv("KOALA_SUT_NAME"),
		mode:         pb.Mode_MODE_RECORD,
		outboundAddr: strings.TrimSpace(getenv("KOALA_OUTBOUND_ADDR")),
		bypass:       splitList(getenv("KOALA_OUTBOUND_BYPASS_ADDR")),
		bufferSize:   defaultBufferSize,
		batchDelay:   recordFlushDelay,
		sendStall:    defaultSendStall,
		logLevel:     levelInfo,
		logFile:      getenv("KOALA_LOG_FILE"),
	}
	if s.gatewayAddr == "" {
		s.gatewayAddr = defaultGatewayAddr
	}
	if s.sutName == "" {
		s.sutName = executableName()
	}
	if v := getenv("KOALA_MODE"); v != "" {
		if m, ok := parseMode(v); ok {
			s.mode = m
		} else {
			warn("KOALA_MODE=%q: expected record, replay or record+replay; using record", v)
		}
	}
	if v := getenv("KOALA_BUFFER_SIZE"); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		switch {
		case err != nil || n <= 0:
			warn("KOALA_BUFFER_SIZE=%q: expected a positive number of bytes; using %d", v, defaultBufferSize)
		case n < minBufferSize:
			warn("KOALA_BUFFER_SIZE=%d: below the minimum; using %d", n, minBufferSize)
			s.bufferSize = minBufferSize
		default:
			s.bufferSize = n
		}
	}
	s.batchDelay = millis(getenv, warn, "KOALA_BATCH_DELAY_MS", 1, 1000, s.batchDelay)
	s.sendStall = millis(getenv, warn, "KOALA_SEND_STALL_MS", 100, 600000, s.sendStall)
	if v := getenv("KOALA_LOG_LEVEL"); v != "" {
		if l, ok := parseLevel(v); ok {
			s.logLevel = l
		} else {
			warn("KOALA_LOG_LEVEL=%q: expected DEBUG, INFO, WARN or ERROR; using INFO", v)
		}
	}
	return s
}

// millis reads a duration in milliseconds between lo and hi; unset or bad, it is def (bad warns).
func millis(getenv func(string) string, warn func(string, ...any), name string, lo, hi int, def time.Duration) time.Duration {
	v := getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		warn("%s=%q: expected %d to %d milliseconds; using %d", name, v, lo, hi, def.Milliseconds())
		return def
	}
	return time.Duration(n) * time.Millisecond
}

func parseMode(v string) (pb.Mode, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "record":
		return pb.Mode_MODE_RECORD, true
	case "replay":
		return pb.Mode_MODE_REPLAY, true
	case "record+replay", "record_and_replay":
		return pb.Mode_MODE_RECORD_AND_REPLAY, true
	}
	return pb.Mode_MODE_UNSPECIFIED, false
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func executableName() string {
	if p, err := os.Executable(); err == nil {
		return filepath.Base(p)
	}
	return filepath.Base(os.Args[0])
}
