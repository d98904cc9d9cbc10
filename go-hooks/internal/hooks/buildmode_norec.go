//go:build !koala_recorder && koala_replayer

package hooks

const buildRecord = false
