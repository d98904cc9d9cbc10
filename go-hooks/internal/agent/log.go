package agent

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

type level int

const (
	levelDebug level = iota
	levelInfo
	levelWarn
	levelError
)

func parseLevel(v string) (level, bool) {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "DEBUG", "TRACE":
		return levelDebug, true
	case "INFO":
		return levelInfo, true
	case "WARN", "WARNING":
		return levelWarn, true
	case "ERROR":
		return levelError, true
	}
	return levelInfo, false
}

var levelNames = [...]string{"DEBUG", "INFO", "WARN", "ERROR"}

// logger writes "[koala] go-agent LEVEL msg" lines. It writes to a file or stderr, never to a
// socket, so the hooks never see the agent's own logging.
type logger struct {
	mu  sync.Mutex
	min level
	out io.Writer
}

func newLogger(min level, file string) *logger {
	l := &logger{min: min, out: os.Stderr}
	if file != "" && !strings.EqualFold(file, "STDERR") {
		if f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err == nil {
			l.out = f
		} else {
			l.logf(levelWarn, "KOALA_LOG_FILE=%q: %v; logging to stderr", file, err)
		}
	}
	return l
}

func (l *logger) enabled(lv level) bool { return l != nil && lv >= l.min }

func (l *logger) logf(lv level, format string, args ...any) {
	if !l.enabled(lv) {
		return
	}
	line := fmt.Sprintf("%s [koala] go-agent %s %s\n",
		time.Now().UTC().Format(time.RFC3339Nano), levelNames[lv], fmt.Sprintf(format, args...))
	l.mu.Lock()
	_, _ = io.WriteString(l.out, line)
	l.mu.Unlock()
}

func (l *logger) debugf(format string, args ...any) { l.logf(levelDebug, format, args...) }
func (l *logger) infof(format string, args ...any)  { l.logf(levelInfo, format, args...) }
func (l *logger) warnf(format string, args ...any)  { l.logf(levelWarn, format, args...) }
