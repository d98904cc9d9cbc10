package overlay

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// patchSet is the patches for Go versions from minVersion on, until the next set's minVersion.
type patchSet struct {
	minVersion string // "go1.26"
	patches    []FilePatch
}

// patchSets is ordered oldest first. Go 1.26 and 1.27 share every anchor (checked against
// go1.26.8 and go1.27.3); a release that moves one gets its own set here.
var patchSets = []patchSet{
	{minVersion: "go1.26", patches: concat(runtimePatches, netPatches, httpPatches)},
}

func concat(lists ...[]FilePatch) []FilePatch {
	var out []FilePatch
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Toolchain is what the go command in a directory reports.
type Toolchain struct {
	GOROOT     string
	GOVERSION  string
	GOMODCACHE string
}

// Lookup runs `go env GOROOT GOVERSION GOMODCACHE` in dir with the given environment (nil: os.Environ).
func Lookup(dir string, env []string) (Toolchain, error) {
	cmd := exec.Command("go", "env", "GOROOT", "GOVERSION", "GOMODCACHE")
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Toolchain{}, fmt.Errorf("koala: go env GOROOT GOVERSION: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		return Toolchain{}, fmt.Errorf("koala: unexpected go env output %q", out)
	}
	return Toolchain{GOROOT: lines[0], GOVERSION: lines[1], GOMODCACHE: lines[2]}, nil
}

// minor turns "go1.26.8", "go1.27rc1" or "go1.26" into 26; -1 if it is not a go1.N version.
func minor(v string) int {
	rest, ok := strings.CutPrefix(v, "go1.")
	if !ok {
		return -1
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(rest[:end])
	if err != nil {
		return -1
	}
	return n
}

// PatchesFor picks the newest patch set whose minVersion is not newer than goVersion.
func PatchesFor(goVersion string) ([]FilePatch, error) {
	m := minor(goVersion)
	for i := len(patchSets) - 1; i >= 0; i-- {
		if m >= 0 && minor(patchSets[i].minVersion) <= m {
			return patchSets[i].patches, nil
		}
	}
	return nil, fmt.Errorf("%w: %s (oldest supported: %s)", ErrGoVersion, goVersion, patchSets[0].minVersion)
}

// Patch reads every patched file from tc's GOROOT and returns the patched contents by path
// relative to GOROOT/src.
func Patch(tc Toolchain) (map[string]string, error) {
	patches, err := PatchesFor(tc.GOVERSION)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(patches))
	for _, p := range patches {
		src, err := os.ReadFile(filepath.Join(tc.GOROOT, "src", filepath.FromSlash(p.File)))
		if err != nil {
			return nil, fmt.Errorf("koala: %s: %w", tc.GOVERSION, err)
		}
		patched, err := p.Apply(string(src), tc.GOVERSION)
		if err != nil {
			return nil, err
		}
		out[p.File] = patched
	}
	return out, nil
}

// cacheKey names the overlay directory: one per Go version, GOROOT and patch text.
func cacheKey(tc Toolchain, patches []FilePatch) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\n%s\n%s\n", PatchVersion, tc.GOROOT, tc.GOVERSION)
	_ = json.NewEncoder(h).Encode(patches)
	return tc.GOVERSION + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// DefaultCacheDir is where overlays go unless KOALA_OVERLAY_DIR says otherwise.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("KOALA_OVERLAY_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("koala: no cache directory for the overlay: %w", err)
	}
	return filepath.Join(d, "koala", "overlay"), nil
}

// Generate writes the patched files and overlay.json for tc under cacheDir (reusing a
// complete earlier result) and returns the absolute path of overlay.json.
func Generate(tc Toolchain, cacheDir string) (string, error) {
	if inModCache(tc) {
		return "", fmt.Errorf("%w: GOROOT %s (%s) lies in GOMODCACHE; install that Go outside the module cache and build with GOTOOLCHAIN=local", ErrToolchainInModCache, tc.GOROOT, tc.GOVERSION)
	}
	patches, err := PatchesFor(tc.GOVERSION)
	if err != nil {
		return "", err
	}
	dir, err := filepath.Abs(filepath.Join(cacheDir, cacheKey(tc, patches)))
	if err != nil {
		return "", err
	}
	overlayPath := filepath.Join(dir, "overlay.json")
	if _, err := os.Stat(overlayPath); err == nil {
		return overlayPath, nil
	}
	files, err := Patch(tc)
	if err != nil {
		return "", err
	}
	// Build in a private directory and rename it into place, so concurrent generators never
	// see a half-written overlay.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	replace := make(map[string]string, len(files))
	for rel, text := range files {
		p := filepath.Join(tmp, "src", filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return "", err
		}
		replace[filepath.Join(tc.GOROOT, "src", filepath.FromSlash(rel))] = filepath.Join(dir, "src", filepath.FromSlash(rel))
	}
	js, err := json.MarshalIndent(map[string]any{"Replace": replace}, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, "overlay.json"), append(js, '\n'), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(overlayPath); statErr == nil {
			return overlayPath, nil // another generator won the race
		}
		return "", err
	}
	return overlayPath, nil
}

// inModCache reports whether GOROOT is a toolchain that GOTOOLCHAIN downloaded into the module
// cache: the go command refuses overlays of files there.
func inModCache(tc Toolchain) bool {
	if tc.GOMODCACHE == "" {
		return false
	}
	rel, err := filepath.Rel(tc.GOMODCACHE, tc.GOROOT)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
