package overlay

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestApplyInsertsOnTheAnchorLine(t *testing.T) {
	src := "package p\n\ntype s struct {\n\ta int\n}\n\nfunc f() {\n\tx := 1\n}\n"
	p := FilePatch{File: "p/p.go", Ops: []Op{
		{Kind: StructEnd, Anchor: "type s struct {", Text: "koala int"},
		{Kind: After, Anchor: "func f() {", Text: " g();"},
		{Kind: Before, Anchor: "x := 1", Text: "h(); "},
		{Kind: Append, Text: "func g() {}\n"},
	}}
	got, err := p.Apply(src, "go1.26")
	if err != nil {
		t.Fatal(err)
	}
	want := "package p\n\ntype s struct {\n\ta int\nkoala int }\n\nfunc f() { g();\n\th(); x := 1\n}\nfunc g() {}\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestApplyErrorsNameVersionAndFile(t *testing.T) {
	p := FilePatch{File: "net/x.go", Ops: []Op{{Kind: After, Anchor: "missing()", Text: ";"}}}
	_, err := p.Apply("package net\n", "go1.99.1")
	if !errors.Is(err, ErrAnchorMissing) || !strings.Contains(err.Error(), "go1.99.1") || !strings.Contains(err.Error(), "net/x.go") {
		t.Fatalf("err = %v, want ErrAnchorMissing naming go1.99.1 and net/x.go", err)
	}
	p.Ops[0].Anchor = "a()"
	if _, err := p.Apply("a()\na()\n", "go1.26"); !errors.Is(err, ErrAnchorAmbiguous) {
		t.Fatalf("err = %v, want ErrAnchorAmbiguous", err)
	}
}

func TestPatchesForPicksTheNewestSetNotNewerThanTheVersion(t *testing.T) {
	for _, v := range []string{"go1.26", "go1.26.8", "go1.27.3", "go1.27rc1"} {
		if _, err := PatchesFor(v); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
	}
	for _, v := range []string{"go1.25.9", "devel +abc", ""} {
		if _, err := PatchesFor(v); !errors.Is(err, ErrGoVersion) {
			t.Fatalf("%s: err = %v, want ErrGoVersion", v, err)
		}
	}
}

func TestRuntimeExportsThePatchVersion(t *testing.T) {
	want := fmt.Sprintf("const KoalaPatchVersion = %d\n", PatchVersion)
	for _, p := range runtimePatches {
		for _, op := range p.Ops {
			if strings.Contains(op.Text, want) {
				return
			}
		}
	}
	t.Fatalf("no runtime patch declares %q", want)
}

// internal/gid refuses to compile against a runtime patch of another version: its constant must
// follow PatchVersion, or every tagged build would fail.
func TestGidExpectsThisPatchVersion(t *testing.T) {
	src, err := os.ReadFile("../gid/gid_on.go")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("const overlayVersion = %d\n", PatchVersion)
	if !strings.Contains(string(src), want) {
		t.Fatalf("internal/gid/gid_on.go does not declare %q", want)
	}
}
