#!/usr/bin/env bash
# The Root tab on a 300,000-entry directory: the isolab TUI's steady CPU
# while it sits on that directory (1 s refresh), and the key lag (a key
# press until the screen shows its effect). Usage:
#   bash bench/rootfs.sh [path/to/isolab]     (default: target/release/isolab)
# Needs root (reads any process's root), tmux and python3. Removes what it made.
set -euo pipefail
BIN=${1:-target/release/isolab}
N=${BENCH_ENTRIES:-300000}
SOCK=isolab-bench-rootfs-$$
# On tmpfs: making 300,000 files on a VM disk takes minutes.
DIR=$(mktemp -d /dev/shm/isolab-bench-rootfs-$$-XXXX)
NAME=$(basename "$DIR")
tm() { tmux -L "$SOCK" "$@"; }
SECS=$((4000000 + $$))
sleep "$SECS" &
SLEEPER=$!
cleanup() { tm kill-server 2>/dev/null || true; kill "$SLEEPER" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
python3 - "$DIR" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.close(os.open(f"{d}/entry-{i:07d}", os.O_CREAT | os.O_WRONLY, 0o644))
PY
screen() { tm capture-pane -t j -p; }
wait_for() { # text, seconds
  local end=$((SECONDS + $2))
  until screen | grep -qF -- "$1"; do
    [ $SECONDS -lt $end ] || { echo "timed out waiting for $1"; screen; exit 1; }
    sleep 0.02
  done
}
tm -f /dev/null new-session -d -s j -x 160 -y 40 env TERM=xterm-256color "$BIN" --interval 1
wait_for "Processes" 30
sleep 2
pane=$(tm display-message -t j -p '#{pane_pid}')
pid=$(pgrep -P "$pane" -x isolab || echo "$pane")
# Select our own sleeper (its root is the host's /).
tm send-keys -t j / ; tm send-keys -t j -l "sleep $SECS" ; tm send-keys -t j Enter
wait_for "sleep $SECS" 30
tab=$(screen | head -1 | tr -s ' ' '\n' | grep -B1 -x Root | head -1)
tm send-keys -t j "$tab"
wait_for "root of PID $SLEEPER" 30
tm send-keys -t j / ; tm send-keys -t j -l dev ; tm send-keys -t j Enter Enter
wait_for "/dev · " 60
tm send-keys -t j / ; tm send-keys -t j -l shm ; tm send-keys -t j Enter Enter
wait_for "/dev/shm · " 60
tm send-keys -t j / ; tm send-keys -t j -l "$NAME" ; tm send-keys -t j Enter Enter
wait_for "$N entries" 300
sleep 3
ticks() { awk '{ i = index($0, ") "); split(substr($0, i + 2), f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks "$pid"); s0=$(date +%s.%N)
sleep 10
t1=$(ticks "$pid"); s1=$(date +%s.%N)
cpu=$(echo "scale=1; 100 * ($t1 - $t0) / $hz / ($s1 - $s0)" | bc)
rss=$(awk '/VmRSS/ { print $2 / 1024 " MiB" }' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ { print $2 / 1024 " MiB" }' "/proc/$pid/status")
lags=()
for i in 1 2 3 4 5 6; do
  a=$(date +%s%N); tm send-keys -t j H; wait_for "host path:" 30; b=$(date +%s%N)
  lags+=($(( (b - a) / 1000000 )))
  tm send-keys -t j H
  while screen | grep -qF "host path:"; do sleep 0.02; done
  sleep 0.$((RANDOM % 9 + 1))
done
sorted=$(printf '%s\n' "${lags[@]}" | sort -n | tr '\n' ' ')
echo "binary: $BIN; $N entries; idle CPU over 10 s at --interval 1: ${cpu}% of one core"
echo "RSS: $rss (peak $hwm); key lag (H until shown, ms, sorted): $sorted"
