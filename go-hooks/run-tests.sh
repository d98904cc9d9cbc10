#!/bin/sh
# Runs the go-hooks checks: vet and race tests without the koala_go tag, then with the tag and
# the overlay (recorder-only build with and without -race, then a recorder+replayer build, which
# also runs the redirect test).
# The first tagged -race run compiles the patched std with the race detector: minutes on 2 cores.
set -eu
cd "$(dirname "$0")"
export GOFLAGS= GOTOOLCHAIN=local
go vet ./...
go test -race -count=1 ./...
OVL=$(go run ./cmd/koala-overlay)
# vet has known overlay problems (golang/go#44957, #50044): vet the tagged code with the tag
# but run the tagged tests with -vet=off.
go vet -tags koala_go -overlay "$OVL" ./...
go test -race -count=1 -vet=off -tags koala_go -overlay "$OVL" ./...
# Without -race the agent records on the system stack (the race detector cannot follow it there).
go test -count=1 -vet=off -tags koala_go -overlay "$OVL" ./...
go test -race -count=1 -vet=off -tags koala_go,koala_recorder,koala_replayer -overlay "$OVL" ./internal/hooks/
