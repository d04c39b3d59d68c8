#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What libcordon.so costs, each figure next to its baseline measured in the same run
# (medians; the machine is a shared, noisy 2-core VM):
#   1. per call: open+close of a cached file, stat, connect (ns per call), with the shim
#      and without it under the same kernel sandbox (`cordon exec`), and with no sandbox,
#      in 9 interleaved rounds;
#   2. per exec: sh -c 'for i in $(seq 1000); do /bin/true; done' under `cordon run` (every
#      /bin/true loads the shim and takes the descendant path) vs under `cordon exec`;
#   3. start of a root, vs bwrap and /bin/true: a process started with the profile
#      (LD_PRELOAD) from an offline envelope and from the real cordond on loopback
#      (single-policy mode), and `cordon run` against that cordond.
#   bench/bench_shim.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${1:-build}
cordon=$src/$build/tools/cordon
shim=$src/$build/shim/libcordon.so
work=$(mktemp -d /var/tmp/cordon-bench-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
mkdir -p "$work/home/.ssh" "$work/ws" "$work/keys"
export HOME=$work/home
cd "$work/ws"
gcc -O2 -o "$work/ws/hookbench" "$src/bench/hookbench.c"
echo cached > "$work/ws/file"
"$cordon" keygen "$work/keys/k" >/dev/null
key=ck_$(python3 -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
printf '%s\n' "$key" > "$work/keys/agent.key"; chmod 600 "$work/keys/agent.key"
cat > "$work/host.json" <<'J'
{"cordon_policy":1,"agent":"bench","sandbox":{"enforcement":"best_effort",
 "filesystem":{"read_write":["${workspace}","${tmp}"],"read_only":["${cwd}"]},
 "exec":{"allow":["*","${workspace}"]},"network":{"mode":"host"}},"poll_seconds":3600}
J
"$cordon" sign --key "$work/keys/k.key" --version 1 "$work/host.json" > "$work/host.env" 2>/dev/null
export CORDON_TRUST=$work/keys/k.pub CORDON_WORKSPACE=$work/ws CORDON_LOG=off

# A loopback listener for the connect figure (accepts and closes).
python3 - "$work/listen.port" <<'P' & pids+=($!)
import os, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1024)
open(sys.argv[1] + ".t", "w").write(str(s.getsockname()[1])); os.rename(sys.argv[1] + ".t", sys.argv[1])
while True:
    c, _ = s.accept(); c.close()
P
for _ in $(seq 100); do [ -s "$work/listen.port" ] && break; sleep 0.05; done
port=$(cat "$work/listen.port")

# Rounds are interleaved (no sandbox, sandbox only, shim, then again), so a noisy moment of
# the shared machine falls on all three alike rather than on one column.
echo "== per call (ns, median of 9 interleaved rounds)"
printf '%-12s %12s %14s %12s %8s\n' call "no sandbox" "sandbox only" "with shim" "shim/sb"
for c in "open 50000 $work/ws/file" "stat 50000 $work/ws/file" "connect 1500 $port"; do
    set -- $c
    base=() sb=() sh=()
    for _ in $(seq 9); do
        base+=("$("$work/ws/hookbench" $c 1)")
        sb+=("$("$cordon" exec --policy "$work/host.env" --trust "$CORDON_TRUST" -- "$work/ws/hookbench" $c 1)")
        sh+=("$(CORDON_POLICY=$work/host.env LD_PRELOAD=$shim "$work/ws/hookbench" $c 1)")
    done
    python3 - "$1" "${base[*]}" "${sb[*]}" "${sh[*]}" <<'P'
import statistics, sys
name, cols = sys.argv[1], [[float(x) for x in a.split()] for a in sys.argv[2:]]
base, sb, sh = (statistics.median(c) for c in cols)
print("%-12s %12.0f %14.0f %12.0f %8.2f" % (name, base, sb, sh, sh / sb))
P
done

echo
echo "== per exec: 1000 x /bin/true from sh, 9 interleaved rounds (medians)"
python3 - "$cordon" "$work/host.env" "$CORDON_TRUST" <<'P'
import resource, statistics, subprocess, sys, time
cordon, env, trust = sys.argv[1:4]
loop = "for i in $(seq 1000); do /bin/true; done"
cmds = {"sandbox only (cordon exec)": [cordon, "exec", "--policy", env, "--trust", trust, "--", "sh", "-c", loop],
        "with shim    (cordon run) ": [cordon, "run", "--policy", env, "--trust", trust, "--", "sh", "-c", loop]}
wall = {k: [] for k in cmds}
cpu = {k: [] for k in cmds}
for _ in range(9):
    for k, c in cmds.items():
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        subprocess.run(c, check=True)
        t1 = time.monotonic()
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall[k].append(t1 - t0)
        cpu[k].append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
for k in cmds:
    print("%s  wall %8.1f ms   cpu %8.1f ms" % (k, statistics.median(wall[k]) * 1e3,
                                                   statistics.median(cpu[k]) * 1e3))
a, b = list(cmds)
print("added per exec               wall %8.3f ms   cpu %8.3f ms" % (
    statistics.median(wall[b]) - statistics.median(wall[a]),
    statistics.median(cpu[b]) - statistics.median(cpu[a])))
P

echo
echo "== start of a root (hyperfine, median)"
cat > "$work/proxy.json" <<'J'
{"cordon_policy":1,"agent":"bench","sandbox":{"enforcement":"best_effort",
 "filesystem":{"read_write":["${workspace}","${tmp}"],"read_only":["${cwd}"]},
 "network":{"mode":"proxy","allow":["example.com:443"]}},"poll_seconds":3600}
J
"$cordon" sign --key "$work/keys/k.key" --version 1 "$work/proxy.json" > "$work/proxy.env" 2>/dev/null
cordond=$src/$build/policy/server/cordond
mkdir -p "$work/state"
"$cordond" --policy "$work/proxy.json" --agent-key-file "$work/keys/agent.key" \
    --signing-key "$work/keys/k.key" --state-dir "$work/state" --listen 127.0.0.1:0 \
    --tunnel-listen 127.0.0.1:0 --ready-file "$work/ready" > "$work/cordond.log" 2>&1 & pids+=($!)
for _ in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done
server=http://$(sed -n 's/^http=//p' "$work/ready")
hyperfine -N --warmup 3 --runs 30 --export-json "$work/start.json" \
    "/bin/true" \
    "bwrap --ro-bind / / --dev /dev --proc /proc --unshare-net --unshare-pid /bin/true" \
    "env CORDON_POLICY=$work/proxy.env LD_PRELOAD=$shim /bin/true" \
    "env CORDON_SERVER=$server CORDON_KEY=$work/keys/agent.key LD_PRELOAD=$shim /bin/true" \
    "$cordon run --server $server --key $work/keys/agent.key --trust $CORDON_TRUST -- /bin/true" >/dev/null
python3 - "$work/start.json" <<'P'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
names = ["/bin/true", "bwrap", "shim root (profile, offline)", "shim root (profile, cordond)",
         "cordon run (cordond)"]
bw = r[1]["median"]
for n, x in zip(names, r):
    print("%-30s %7.2f ms   %5.2fx bwrap" % (n, x["median"] * 1e3, x["median"] / bw))
P
