//go:build !koala_go

package koala_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTagWithoutOverlayFailsToBuild: the koala_go tag without koala's overlay must not
// silently build a binary that records nothing.
func TestTagWithoutOverlayFailsToBuild(t *testing.T) {
	cmd := exec.Command("go", "build", "-tags", "koala_go", "-o", t.TempDir()+"/x", "./internal/gid")
	cmd.Env = append(cmd.Environ(), "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("go build -tags koala_go without the overlay succeeded")
	}
	if !strings.Contains(string(out), "koala_go_needs_the_overlay_see_koala_go_flags") {
		t.Fatalf("build failed without naming the overlay:\n%s", out)
	}
}
