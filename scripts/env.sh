# shellcheck shell=bash
# The one place that fixes fleetform's environment. Sourced by the Makefile recipes,
# scripts/* and (through tests/conftest.py) the test suite.
FLEETFORM_ROOT="${FLEETFORM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

# Pinned toolchain versions (see README "Toolchain").
FLEETFORM_PULUMI_VERSION=v3.274.1
FLEETFORM_COMMAND_VERSION=v1.2.1
FLEETFORM_DOCKER_BUILD_VERSION=v0.0.22
# BuildKit daemon for pulumi-docker-build (scripts/buildkit, docs/toolchain.md "BuildKit").
FLEETFORM_BUILDKIT_VERSION=v0.31.0
# Unmodified upstream archives that scripts/bootstrap builds when the module proxy refuses them.
FLEETFORM_THIRD_PARTY_DIR="${FLEETFORM_THIRD_PARTY_DIR:-}"

# Built toolchain lives outside the checkout so a fresh clone on the same machine reuses it.
FLEETFORM_CACHE="${FLEETFORM_CACHE:-$HOME/.cache/fleetform}"
FLEETFORM_TOOLCHAIN_DIR="${FLEETFORM_TOOLCHAIN_DIR:-$FLEETFORM_CACHE/toolchain/pulumi-$FLEETFORM_PULUMI_VERSION-command-$FLEETFORM_COMMAND_VERSION-docker-build-$FLEETFORM_DOCKER_BUILD_VERSION}"
FLEETFORM_FLEET_DIR="${FLEETFORM_FLEET_DIR:-$FLEETFORM_CACHE/fleet}"
# buildkitd/buildctl built by scripts/buildkit, and the running daemon's config, socket and state.
FLEETFORM_BUILDKIT_DIR="${FLEETFORM_BUILDKIT_DIR:-$FLEETFORM_CACHE/toolchain/buildkit-$FLEETFORM_BUILDKIT_VERSION}"
FLEETFORM_BUILDKIT_STATE="${FLEETFORM_BUILDKIT_STATE:-$FLEETFORM_CACHE/buildkit}"
if [ -x "$FLEETFORM_BUILDKIT_DIR/bin/buildkitd" ]; then
  # The buildx `remote` builder that scripts/buildkit registers; components/app_image.py builds
  # with it. Unset (a stock setup), pulumi-docker-build picks or creates a builder itself.
  FLEETFORM_BUILDX_BUILDER="${FLEETFORM_BUILDX_BUILDER-fleetform}"
  export FLEETFORM_BUILDX_BUILDER
fi

if [ -x "$FLEETFORM_TOOLCHAIN_DIR/bin/pulumi" ]; then
  PATH="$FLEETFORM_TOOLCHAIN_DIR/bin:$PATH"
  # Plugins registered by scripts/bootstrap live beside the built CLI, not in ~/.pulumi.
  PULUMI_HOME="${PULUMI_HOME:-$FLEETFORM_TOOLCHAIN_DIR/pulumi-home}"
  # Offline: the built toolchain has every plugin it needs, and nothing may reach GitHub.
  # (A user's own stock CLI keeps acquiring plugins the normal way.)
  PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  export PULUMI_HOME PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION
fi

# Nothing may try to reach get.pulumi.com for a version check.
PULUMI_SKIP_UPDATE_CHECK=true
# Embedded default backend: local files under the project.
PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$FLEETFORM_ROOT/.pulumi-state}"
# Secrets passphrases: no default here. The public dev passphrase protects only the embedded dev
# and test stacks; fleetform_stack_passphrase (below) picks one per stack for scripts/stack and
# scripts/promote, and the Pulumi program refuses the dev passphrase on any other stack.
FLEETFORM_DEV_PASSPHRASE=fleetform-dev-passphrase
# staging and production on the local fleet: this machine's own passphrase, generated once.
FLEETFORM_PASSPHRASE_FILE="${FLEETFORM_PASSPHRASE_FILE:-$FLEETFORM_CACHE/stack-passphrase}"
# Only the Go module proxy; never fall back to fetching from GitHub directly.
GOPROXY="${GOPROXY_FLEETFORM:-https://proxy.golang.org}"
GOFLAGS=-mod=mod

export FLEETFORM_ROOT FLEETFORM_PULUMI_VERSION FLEETFORM_COMMAND_VERSION FLEETFORM_DOCKER_BUILD_VERSION \
  FLEETFORM_BUILDKIT_VERSION FLEETFORM_BUILDKIT_DIR FLEETFORM_BUILDKIT_STATE \
  FLEETFORM_CACHE FLEETFORM_TOOLCHAIN_DIR FLEETFORM_FLEET_DIR PATH PULUMI_SKIP_UPDATE_CHECK \
  PULUMI_BACKEND_URL FLEETFORM_DEV_PASSPHRASE FLEETFORM_PASSPHRASE_FILE GOPROXY GOFLAGS

# fleetform_stack_passphrase STACK: exports the passphrase that protects STACK's secrets.
# - dev, bench, e2e-*: the public dev passphrase (the embedded fleet; bench and e2e-* are the
#   throwaway stacks of scripts/bench-deploy and the test suite);
# - any other stack: yours, when PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE is set
#   (or none, with another secrets provider); never the dev passphrase;
# - staging and production without one of yours: this machine's own, generated once into
#   $FLEETFORM_PASSPHRASE_FILE (mode 600) and passed as PULUMI_CONFIG_PASSPHRASE_FILE.
fleetform_stack_passphrase() {
  local stack=$1 generated
  case "$stack" in
  dev | bench | e2e-*)
    PULUMI_CONFIG_PASSPHRASE=$FLEETFORM_DEV_PASSPHRASE
    unset PULUMI_CONFIG_PASSPHRASE_FILE
    export PULUMI_CONFIG_PASSPHRASE
    return 0
    ;;
  esac
  if [ "${PULUMI_CONFIG_PASSPHRASE-}" = "$FLEETFORM_DEV_PASSPHRASE" ]; then
    echo "stack $stack: PULUMI_CONFIG_PASSPHRASE is the public dev passphrase, which protects only" \
      "the dev, bench and e2e-* stacks; set PULUMI_CONFIG_PASSPHRASE, or use another secrets" \
      "provider" >&2
    return 1
  fi
  if [ -n "${PULUMI_CONFIG_PASSPHRASE-}" ] || [ -n "${PULUMI_CONFIG_PASSPHRASE_FILE-}" ]; then
    return 0
  fi
  case "$stack" in
  staging | production)
    if [ ! -s "$FLEETFORM_PASSPHRASE_FILE" ]; then
      mkdir -p "$(dirname "$FLEETFORM_PASSPHRASE_FILE")"
      generated="$FLEETFORM_PASSPHRASE_FILE.$$"
      # Written aside, then moved without overwriting: two first runs agree on one passphrase.
      (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n' >"$generated")
      mv -n "$generated" "$FLEETFORM_PASSPHRASE_FILE"
      rm -f "$generated"
    fi
    chmod 600 "$FLEETFORM_PASSPHRASE_FILE"
    PULUMI_CONFIG_PASSPHRASE_FILE=$FLEETFORM_PASSPHRASE_FILE
    export PULUMI_CONFIG_PASSPHRASE_FILE
    ;;
  esac
}
