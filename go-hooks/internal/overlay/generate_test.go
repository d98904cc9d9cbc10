package overlay

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateForTheInstalledGo patches the real standard library of the Go running the test:
// every anchor must match once, and line counts must not change except by appended text.
func TestGenerateForTheInstalledGo(t *testing.T) {
	tc, err := Lookup(".", nil)
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	path, err := Generate(tc, cache)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ov struct{ Replace map[string]string }
	if err := json.Unmarshal(raw, &ov); err != nil {
		t.Fatal(err)
	}
	patches, _ := PatchesFor(tc.GOVERSION)
	if len(ov.Replace) != len(patches) {
		t.Fatalf("%d replacements, want %d", len(ov.Replace), len(patches))
	}
	for _, p := range patches {
		orig := filepath.Join(tc.GOROOT, "src", filepath.FromSlash(p.File))
		backing, ok := ov.Replace[orig]
		if !ok {
			t.Fatalf("overlay does not replace %s", orig)
		}
		before, err := os.ReadFile(orig)
		if err != nil {
			t.Fatal(err)
		}
		after, err := os.ReadFile(backing)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(after), firstLines(string(before), 1)) {
			t.Fatalf("%s: first line changed", p.File)
		}
		appended := 0
		for _, op := range p.Ops {
			if op.Kind == Append {
				appended += strings.Count(op.Text, "\n")
			}
		}
		nb, na := strings.Count(string(before), "\n"), strings.Count(string(after), "\n")
		if na != nb+appended {
			t.Fatalf("%s: %d lines, want %d + %d appended", p.File, na, nb, appended)
		}
	}
	again, err := Generate(tc, cache)
	if err != nil || again != path {
		t.Fatalf("second Generate = %q, %v; want the cached %q", again, err, path)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitAfterN(s, "\n", n+1)
	return strings.Join(lines[:n], "")
}

func TestGenerateRefusesAToolchainInTheModuleCache(t *testing.T) {
	tc := Toolchain{
		GOROOT:     "/home/u/go/pkg/mod/golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64",
		GOVERSION:  "go1.27.3",
		GOMODCACHE: "/home/u/go/pkg/mod",
	}
	_, err := Generate(tc, t.TempDir())
	if !errors.Is(err, ErrToolchainInModCache) || !strings.Contains(err.Error(), "GOTOOLCHAIN=local") {
		t.Fatalf("err = %v, want ErrToolchainInModCache with the fix", err)
	}
}
