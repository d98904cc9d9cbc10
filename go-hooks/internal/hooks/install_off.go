//go:build !koala_go

package hooks

// Install does nothing without the koala_go tag.
func Install() {}
