// Package overlay patches the standard library of the installed Go for koala and writes the
// `go build -overlay` file that points the compiler at the patched copies.
package overlay

import (
	"errors"
	"fmt"
	"strings"
)

var (
	ErrAnchorMissing   = errors.New("koala: overlay anchor not found")
	ErrAnchorAmbiguous = errors.New("koala: overlay anchor found more than once")
	ErrGoVersion       = errors.New("koala: Go version not supported by the overlay")
	// ErrToolchainInModCache: the go command refuses to overlay files beneath GOMODCACHE.
	ErrToolchainInModCache = errors.New("koala: the Go toolchain is in the module cache")
)

// OpKind says where an op puts its text relative to its anchor.
type OpKind int

const (
	// After inserts right after the anchor, on the same line.
	After OpKind = iota
	// Before inserts right before the anchor, on the same line.
	Before
	// StructEnd inserts before the closing brace of the struct the anchor opens, on the brace's
	// line, so the field becomes the struct's last.
	StructEnd
	// Append adds text at the end of the file (the anchor is unused).
	Append
)

// Op is one insertion. Every op inserts on an existing line (or after the last one) so that
// positions in panics, pprof and debuggers stay those of the unpatched file.
type Op struct {
	Kind   OpKind
	Anchor string
	Text   string
}

// FilePatch is the ops for one file under GOROOT/src.
type FilePatch struct {
	File string // slash path relative to GOROOT/src, e.g. "net/fd_posix.go"
	Ops  []Op
}

// Apply applies p to src. goVersion only makes errors actionable.
func (p FilePatch) Apply(src, goVersion string) (string, error) {
	out := src
	for _, op := range p.Ops {
		var err error
		out, err = op.apply(out)
		if err != nil {
			return "", fmt.Errorf("%w: %s, file %s, anchor %q", err, goVersion, p.File, op.Anchor)
		}
	}
	return out, nil
}

func (op Op) apply(src string) (string, error) {
	if op.Kind == Append {
		if !strings.HasSuffix(src, "\n") {
			src += "\n"
		}
		return src + op.Text, nil
	}
	switch strings.Count(src, op.Anchor) {
	case 0:
		return "", ErrAnchorMissing
	case 1:
	default:
		return "", ErrAnchorAmbiguous
	}
	i := strings.Index(src, op.Anchor)
	switch op.Kind {
	case Before:
		return src[:i] + op.Text + src[i:], nil
	case After:
		j := i + len(op.Anchor)
		return src[:j] + op.Text + src[j:], nil
	case StructEnd:
		j := strings.Index(src[i:], "\n}")
		if j < 0 {
			return "", ErrAnchorMissing
		}
		j += i + 1
		return src[:j] + op.Text + " " + src[j:], nil
	}
	return "", fmt.Errorf("koala: unknown op kind %d", op.Kind)
}
