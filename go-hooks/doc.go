// Package koala records a Go service's traffic for koala: every accepted and dialed TCP
// connection's bytes, UDP datagrams sent, and which goroutine (session) each byte belongs to.
//
// Add one blank import to the main package and build with koala:
//
//	import _ "github.com/koala-replay/koala/go-hooks/auto"
//
//	koala go build ./cmd/svc
//
// Without the koala_go build tag every function here is a no-op and Enabled is false; with the
// tag but without koala's overlay the build fails. The functions below are only needed where
// goroutine inheritance cannot tell whose work a goroutine does (worker pools, one-way
// protocols).
package koala
