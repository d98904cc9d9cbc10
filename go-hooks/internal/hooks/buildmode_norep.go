//go:build !koala_replayer

package hooks

const buildReplay = false
