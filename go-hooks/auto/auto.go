// Package auto installs koala's hooks and starts its agent when imported:
//
//	import _ "github.com/koala-replay/koala/go-hooks/auto"
//
// Without the koala_go build tag the import does nothing.
package auto

import "github.com/koala-replay/koala/go-hooks/internal/hooks"

func init() { hooks.Install() }
