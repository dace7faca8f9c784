#!/usr/bin/env bash
# Spawning: `isolab run --all -- true` against util-linux unshare making the
# same eight namespaces, side by side in one run. Target: isolab at most
# 1.5x unshare's wall time.
#
# Two measurements:
#  1. hyperfine (apt-get install hyperfine), the usual report;
#  2. an interleaved loop (isolab, unshare, isolab, ...), which is the fair
#     one on a shared machine: load spikes hit both commands alike, where
#     hyperfine runs all of one command, then all of the other.
# Needs root. RUNS=N changes the number of runs per command.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
ISOLAB=${ISOLAB:-$PWD/target/release/isolab}
RUNS=${RUNS:-300}
UNSHARE="unshare --fork --pid --mount-proc --net --ipc --uts --user --cgroup --time true"
if command -v hyperfine >/dev/null; then
    hyperfine --warmup 20 --runs "$RUNS" -N \
        -n isolab "$ISOLAB run --all -- true" -n unshare "$UNSHARE"
else
    echo "(hyperfine not installed: apt-get install -y hyperfine; interleaved loop only)"
fi
python3 - "$ISOLAB" "$RUNS" "$UNSHARE" <<'PY'
import statistics, subprocess, sys, time
isolab, runs, unshare = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
cmds = {"isolab": [isolab, "run", "--all", "--", "true"], "unshare": unshare}
times = {k: [] for k in cmds}
for _ in range(10):
    for c in cmds.values():
        subprocess.run(c, check=True)
for _ in range(runs):
    for name, c in cmds.items():
        t = time.perf_counter()
        subprocess.run(c, check=True)
        times[name].append(time.perf_counter() - t)
print(f"interleaved, {runs} runs each:")
for stat in ("mean", "median", "min"):
    f = getattr(statistics, stat, min) if stat != "min" else min
    i, u = f(times["isolab"]), f(times["unshare"])
    print(f"  {stat:6}: isolab {i*1e3:.2f} ms, unshare {u*1e3:.2f} ms, ratio {i/u:.2f}x")
i, u = statistics.median(times["isolab"]), statistics.median(times["unshare"])
print(f"target (interleaved median ratio <= 1.5x): {'met' if i / u <= 1.5 else 'NOT met'} ({i/u:.2f}x)")
sys.exit(0 if i / u <= 1.5 else 1)
PY
