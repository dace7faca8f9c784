#!/usr/bin/env bash
# Process-tree benchmark (not a test): 10,000 sleeping processes (100
# groups of 100), then in one run
#   1. wall time (hyperfine) and peak RSS (/usr/bin/time) of one snapshot:
#      `isolab tree --ns` vs `ps axjf`, `ps -eo ...ns columns...`, `pstree -p`;
#   2. steady CPU% and RSS of the TUIs at a 1 s refresh in a 200x50 tmux
#      pane: `isolab --interval 1` vs `htop -d 10` vs btop (update_ms=1000),
#      sampled from /proc/PID/stat and /proc/PID/status over SAMPLE_SECS.
# Every process it starts is killed at the end, also on Ctrl-C (trap).
#
#   bash bench/procs.sh     # env: BENCH_GROUPS=100 PER_GROUP=100 SAMPLE_SECS=20 RUNS=10 TUI_ONLY=0
# Prints a markdown table (also written to bench/procs-results.md).
set -euo pipefail
cd "$(dirname "$0")/.."

GROUPS_N=${BENCH_GROUPS:-100}
PER_GROUP=${PER_GROUP:-100}
SAMPLE_SECS=${SAMPLE_SECS:-20}
WARMUP_SECS=${WARMUP_SECS:-5}
RUNS=${RUNS:-10}
TAG=$$
# A sleep duration unique to this run, so we can count (only) our sleepers.
DUR=$((3000000 + TAG))
OUT=bench/procs-results.md

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
command -v htop >/dev/null || need+=(htop)
command -v btop >/dev/null || need+=(btop)
command -v tmux >/dev/null || need+=(tmux)
command -v pstree >/dev/null || need+=(psmisc)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --quiet
ISOLAB=$PWD/target/release/isolab

group_pids=()
sessions=()
tmpdir=$(mktemp -d "/tmp/isolab-bench-procs-$TAG.XXXXXX")
cleanup() {
    set +e
    for s in "${sessions[@]}"; do tmux kill-session -t "$s" 2>/dev/null; done
    for g in "${group_pids[@]}"; do kill -KILL -- "-$g" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmpdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

count_ours() { pgrep -c -x -f "sleep $DUR" || true; }

echo "spawning $((GROUPS_N * PER_GROUP)) sleeping processes ($GROUPS_N groups of $PER_GROUP)..." >&2
set -m # each group gets its own process group, killed as one
for _ in $(seq "$GROUPS_N"); do
    sh -c "i=0; while [ \$i -lt $PER_GROUP ]; do sleep $DUR & i=\$((i+1)); done; wait" &
    group_pids+=($!)
done
set +m
want=$((GROUPS_N * PER_GROUP))
deadline=$((SECONDS + 300))
while [ "$(count_ours)" -lt "$want" ]; do
    [ $SECONDS -lt $deadline ] || { echo "only $(count_ours) of $want sleepers started" >&2; exit 1; }
    sleep 1
done
total=$(ls /proc | grep -c '^[0-9]')
echo "running: $want sleepers, $total processes in total" >&2

# --- 1. one snapshot: wall time and peak RSS ---------------------------------
# (TUI_ONLY=1 skips this part, e.g. to measure a patched TUI alone.)
names=("isolab tree --ns" "ps axjf" "ps -eo pid,ppid,pidns,mntns,netns,utsns,ipcns,userns,cgroupns,comm" "pstree -p")
cmds=("$ISOLAB tree --ns" "ps axjf" "ps -eo pid,ppid,pidns,mntns,netns,utsns,ipcns,userns,cgroupns,comm" "pstree -p")
# The kernel's floor (bench/proc_floor.c): the same reads in plain C on all
# cores, nothing else. No reader of /proc can print the same for less.
cores=$(nproc)
if cc -O2 -pthread -o "$tmpdir/proc_floor" bench/proc_floor.c; then
    names+=("floor, C on $cores threads: stat, cmdline, 8 ns links"
            "floor, C on $cores threads: stat, cmdline, 8 ns links, cgroup")
    cmds+=("$tmpdir/proc_floor $cores 8 0" "$tmpdir/proc_floor $cores 8 1")
fi
rss=()
[ "${TUI_ONLY:-0}" = 1 ] && cmds=()
[ ${#cmds[@]} -gt 0 ] && hyperfine -N --warmup 2 --runs "$RUNS" --style basic \
    --export-json "$tmpdir/hf.json" "${cmds[@]}" >&2
for c in "${cmds[@]}"; do
    peak=0
    for _ in 1 2 3; do
        # shellcheck disable=SC2086
        m=$( { /usr/bin/time -f '%M' $c >/dev/null; } 2>&1 | tail -1)
        [ "$m" -gt "$peak" ] && peak=$m
    done
    rss+=("$peak")
done

# --- 2. the TUIs, steady state at 1 s --------------------------------------
mkdir -p "$tmpdir/btop/btop"
printf 'update_ms = 1000\nproc_tree = False\n' > "$tmpdir/btop/btop/btop.conf"
tui_names=("isolab --interval 1" "htop -d 10" "btop (update_ms=1000)")
tui_cmds=("exec $ISOLAB --interval 1"
          "exec htop -d 10"
          "exec env XDG_CONFIG_HOME=$tmpdir/btop LANG=C.UTF-8 btop --utf-force")
tick=$(getconf CLK_TCK)
tui_cpu=()
tui_rss=()
for i in "${!tui_cmds[@]}"; do
    s="isolab-bench-procs-$TAG-$i"
    tmux new-session -d -s "$s" -x 200 -y 50 "${tui_cmds[$i]}"
    sessions+=("$s")
    pid=$(tmux display-message -p -t "$s" '#{pane_pid}')
    sleep "$WARMUP_SECS"
    ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat"; }
    t0=$(ticks); start=$(date +%s%N); peak=0
    for _ in $(seq "$SAMPLE_SECS"); do
        sleep 1
        r=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
        [ "$r" -gt "$peak" ] && peak=$r
    done
    t1=$(ticks); end=$(date +%s%N)
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$tick" -v ns=$((end - start)) \
        'BEGIN { printf "%.1f", d / hz / (ns / 1e9) * 100 }')
    tui_cpu+=("$cpu")
    tui_rss+=("$peak")
    tmux kill-session -t "$s"
done

# --- the table ---------------------------------------------------------------
{
    echo "Processes: $total ($want sleepers), $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "| one snapshot | wall (mean ± σ) | min | peak RSS |"
    echo "|---|---|---|---|"
    for i in "${!cmds[@]}"; do
        read -r mean sd min < <(python3 -c "
import json,sys
r=json.load(open('$tmpdir/hf.json'))['results'][$i]
print('%.0f %.0f %.0f' % (r['mean']*1000, (r['stddev'] or 0)*1000, r['min']*1000))")
        echo "| \`${names[$i]}\` | ${mean} ms ± ${sd} | ${min} ms | $(awk -v k="${rss[$i]}" 'BEGIN{printf "%.1f", k/1024}') MiB |"
    done
    echo
    echo "| TUI, 200x50 tmux pane, 1 s refresh | steady CPU (${SAMPLE_SECS} s) | peak RSS |"
    echo "|---|---|---|"
    for i in "${!tui_names[@]}"; do
        echo "| \`${tui_names[$i]}\` | ${tui_cpu[$i]} % | $(awk -v k="${tui_rss[$i]}" 'BEGIN{printf "%.1f", k/1024}') MiB |"
    done
} | tee "$OUT"
