#!/usr/bin/env bash
# Spawning: `isolab run --all -- true` against util-linux unshare making the
# same eight namespaces, side by side in one hyperfine run. Target: isolab at
# most 1.5x unshare's wall time. Needs root and hyperfine (apt-get install hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "install hyperfine: apt-get install -y hyperfine" >&2; exit 1; }
cargo build --release --quiet
ISOLAB=${ISOLAB:-$PWD/target/release/isolab}
OUT=${OUT:-/tmp/isolab-bench-spawn-$$.json}
hyperfine --warmup 20 --runs "${RUNS:-300}" -N --export-json "$OUT" \
    -n isolab "$ISOLAB run --all -- true" \
    -n unshare "unshare --fork --pid --mount-proc --net --ipc --uts --user --cgroup --time true"
python3 - "$OUT" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for stat in ("mean", "median", "min"):
    i, u = r["isolab"][stat], r["unshare"][stat]
    print(f"{stat:6}: isolab {i*1e3:.2f} ms, unshare {u*1e3:.2f} ms, ratio {i/u:.2f}x")
i, u = r["isolab"]["median"], r["unshare"]["median"]
print(f"target: median ratio <= 1.5x: {'met' if i / u <= 1.5 else 'NOT met'}")
sys.exit(0 if i / u <= 1.5 else 1)
PY
