//go:build koala_go

package hooks

// InstallHooks installs the runtime and net hooks without starting the agent.
var InstallHooks = installHooks
