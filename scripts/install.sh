#!/usr/bin/env bash
# Installs the release binary, the man page and the shell completions:
#   cargo build --release && sudo scripts/install.sh
# PREFIX (default /usr/local) and DESTDIR (a staging root, for packages and
# tests) work as in autotools. Afterwards `man isolab` and completion work
# (a new shell loads them).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
root=${DESTDIR:-}
bin=${ISOLAB_BIN:-target/release/isolab}
if [ ! -x "$bin" ]; then
    echo "install.sh: $bin is missing: run \`cargo build --release\` first (as yourself, not root)" >&2
    exit 1
fi
install -Dm755 "$bin" "$root$prefix/bin/isolab"
man1="$root$prefix/share/man/man1"
install -d "$man1"
# The page from the binary being installed (it documents that binary's
# flags); if that binary cannot run here (built for another machine), the
# committed copy in assets/, which a test keeps equal to `isolab man`.
runs=0
if "$bin" --version >/dev/null 2>&1; then
    runs=1
fi
if [ "$runs" = 1 ]; then
    "$bin" man >"$man1/isolab.1"
else
    echo "install.sh: $bin does not run here: installing the man page from assets/isolab.1" >&2
    install -m644 assets/isolab.1 "$man1/isolab.1"
fi
if command -v gzip >/dev/null 2>&1; then
    gzip -9nf "$man1/isolab.1"
fi
if [ "$runs" = 0 ]; then
    # No copies of these are committed: they come from the binary only.
    echo "install.sh: skipped the shell completions; on the target run \`isolab completions bash|zsh|fish\`" >&2
    echo "installed isolab to $root$prefix/bin and its man page"
    exit 0
fi
# Where each shell looks for completions installed with the system.
install -d "$root$prefix/share/bash-completion/completions" \
    "$root$prefix/share/zsh/site-functions" \
    "$root$prefix/share/fish/vendor_completions.d"
"$bin" completions bash >"$root$prefix/share/bash-completion/completions/isolab"
"$bin" completions zsh >"$root$prefix/share/zsh/site-functions/_isolab"
"$bin" completions fish >"$root$prefix/share/fish/vendor_completions.d/isolab.fish"
echo "installed isolab to $root$prefix/bin, its man page and bash/zsh/fish completions"
