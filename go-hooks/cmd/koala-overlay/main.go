// Command koala-overlay patches the standard library of the Go toolchain used in the current
// directory for koala and prints the path of the overlay file to pass to `go build -overlay`.
//
//	go build -tags koala_go -overlay="$(koala-overlay)" ./cmd/svc
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/koala-replay/koala/go-hooks/internal/overlay"
)

func main() {
	cacheDir := flag.String("dir", "", "cache directory for the overlays (default: KOALA_OVERLAY_DIR or the user cache dir)")
	flag.Parse()
	if err := run(*cacheDir); err != nil {
		fmt.Fprintln(os.Stderr, "koala-overlay:", err)
		os.Exit(1)
	}
}

func run(cacheDir string) error {
	if cacheDir == "" {
		d, err := overlay.DefaultCacheDir()
		if err != nil {
			return err
		}
		cacheDir = d
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	tc, err := overlay.Lookup(wd, nil)
	if err != nil {
		return err
	}
	path, err := overlay.Generate(tc, cacheDir)
	if err != nil {
		return err
	}
	fmt.Println(path)
	return nil
}
