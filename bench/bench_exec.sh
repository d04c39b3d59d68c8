#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start cost of `cordon exec` against plain /bin/true, bubblewrap and firejail, measured in one
# hyperfine run (medians; the machine is shared and noisy), then the apply time of each policy
# broken down by phase with its rule counts, from the enforcement reports of RUNS starts.
#   bench/bench_exec.sh [BUILD_DIR]   (default: build)
# Policies: examples/policies/default.json (the embedded default) and claims-agent.json (which
# denies rm, chmod, ... by name, so /usr/bin is expanded into one EXECUTE rule per program).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${1:-build}
cordon=$src/$build/tools/cordon
runs=${RUNS:-60}
# Outside /tmp: a HOME inside the tmp directory would make the ${tmp} grant expand around
# the credential set, a layout real machines do not have.
work=$(mktemp -d /var/tmp/cordon-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home/.ssh" "$work/ws"
cd "$work/ws"
export HOME=$work/home
policies=(default claims-agent)

cmds=("/bin/true")
names=("/bin/true")
for p in "${policies[@]}"; do
    cmds+=("$cordon exec --policy $src/examples/policies/$p.json -- /bin/true")
    names+=("cordon:$p")
done
cmds+=("bwrap --ro-bind / / --dev /dev --proc /proc --unshare-net --unshare-pid /bin/true")
names+=("bwrap")
if firejail --quiet --noprofile /bin/true >/dev/null 2>&1; then
    cmds+=("firejail --quiet --noprofile /bin/true")
    names+=("firejail")
else
    echo "note: firejail cannot run here; skipped"
fi
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/h.json" "${cmds[@]}" >/dev/null

python3 - "$work/h.json" "${names[@]}" <<'PY'
import json, statistics, sys
res = json.load(open(sys.argv[1]))["results"]
names = sys.argv[2:]
med = dict(zip(names, (statistics.median(r["times"]) * 1e3 for r in res)))
base = med["/bin/true"]
print(f"start cost, median of {len(res[0]['times'])} runs each, one hyperfine run (ms)")
print(f"{'command':<22}{'median':>9}{'added':>9}{'ratio':>8}")
for n in names:
    print(f"{n:<22}{med[n]:9.2f}{med[n] - base:9.2f}{med[n] / base:8.2f}x")
b = med["bwrap"] - base
for n in names:
    if n.startswith("cordon:") and b > 0:
        print(f"{n} adds {med[n] - base:.2f} ms = {(med[n] - base) / b:.2f} x what bwrap adds "
              f"({b:.2f} ms)")
PY

for p in "${policies[@]}"; do
    for i in $(seq 1 "$runs"); do
        "$cordon" exec --report --policy "$src/examples/policies/$p.json" -- /bin/true 2>&1 >/dev/null
    done | python3 -c '
import json, statistics, sys
name = sys.argv[1]
text = sys.stdin.read()
reports, depth, start = [], 0, None
for i, ch in enumerate(text):
    if ch == "{":
        if depth == 0:
            start = i
        depth += 1
    elif ch == "}":
        depth -= 1
        if depth == 0:
            reports.append(json.loads(text[start:i + 1]))
t = {k: statistics.median(r["timing_us"][k] for r in reports) for k in reports[0]["timing_us"]}
ll, sc = reports[0]["landlock"], reports[0]["seccomp"]
print("%s: apply, median of %d runs (us): %s" % (name, len(reports),
      ", ".join("%s %.0f" % (k, v) for k, v in t.items())))
print("%s: rules: %d file system (%d directories expanded), %d exec, %d network, %d seccomp; "
      "landlock ABI %d" % (name, ll["fs_rules"], ll["expanded_dirs"], ll["exec_rules"],
                           ll["net_rules"], sc["rules"], ll["abi"]))
' "$p"
done
