#!/usr/bin/env bash
# The one test command (README, .ci/run). Installs what the tests need on a
# fresh Debian machine, then runs every test for real: unit, real-kernel,
# screen snapshots, tmux journeys, and the cgroup v2 suite under qemu.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
# passwd: useradd/userdel, for the tests that attack isolab as another user.
# man-db, groff-base, zsh, fish: the man page renders, the completions parse.
for pkg_cmd in tmux:tmux busybox-static:/bin/busybox iproute2:ip procps:ps psmisc:pstree util-linux:unshare passwd:useradd man-db:man groff-base:groff zsh:zsh fish:fish; do
    pkg=${pkg_cmd%%:*}; cmd=${pkg_cmd#*:}
    command -v "$cmd" >/dev/null 2>&1 || [ -x "$cmd" ] || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The binary users run (release: LTO), then every test on the same code
# built without LTO (profile release-tests) so CI links quickly.
cargo build --release --quiet
cargo test --profile release-tests --all-targets 2>&1

# cgroup v2 for real: the same cgroup suite on a pure v2 kernel under qemu
# (installs qemu and a Debian kernel if missing; fails loudly on any failure).
bash scripts/qemu-v2.sh --profile release-tests
