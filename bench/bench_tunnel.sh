#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bulk throughput through cordond's egress tunnel (policy/server/tunnel.c) beside the same
# transfer straight to the origin, everything on loopback: a real cordond in single-policy
# mode whose policy allows the origin's exact 127.0.0.1:PORT, the origin and the client of
# bench/bench_tunnel.c. Up (client to origin) and down (origin to client), MIB MiB each,
# ROUNDS interleaved rounds; prints the medians, the ratio (median of each round's
# tunnel/direct pair) and cordond's CPU time per GiB relayed.
#   bench/bench_tunnel.sh [BUILD_DIR [MIB [ROUNDS]]]   (default: build 1024 7)
# CORDOND=PATH measures another cordond binary (an older build, say) against the same client.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${1:-build}
mib=${2:-1024}
rounds=${3:-7}
cordon=$src/$build/tools/cordon
cordond=${CORDOND:-$src/$build/policy/server/cordond}
bench=$src/$build/bench/bench_tunnel
work=$(mktemp -d /var/tmp/cordon-bench-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
mkdir -p "$work/keys" "$work/state"

"$bench" origin "$work/origin.port" & pids+=($!)
for _ in $(seq 100); do [ -s "$work/origin.port" ] && break; sleep 0.05; done
port=$(cat "$work/origin.port")

"$cordon" keygen "$work/keys/k" >/dev/null
key=ck_$(python3 -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
printf '%s\n' "$key" > "$work/keys/agent.key"; chmod 600 "$work/keys/agent.key"
cat > "$work/policy.json" <<J
{"cordon_policy":1,"agent":"bench","sandbox":{"enforcement":"best_effort",
 "network":{"mode":"proxy","allow":["127.0.0.1:$port"]}},"poll_seconds":3600}
J
"$cordond" --policy "$work/policy.json" --agent-key-file "$work/keys/agent.key" \
    --signing-key "$work/keys/k.key" --state-dir "$work/state" --listen 127.0.0.1:0 \
    --tunnel-listen 127.0.0.1:0 --events-socket off --ready-file "$work/ready" \
    > "$work/cordond.log" 2>&1 & pids+=($!)
spid=$!
for _ in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done
tunnel=$(sed -n 's/^tunnel=//p' "$work/ready")
[ -n "$tunnel" ] || { echo "bench_tunnel: cordond did not start:" >&2; cat "$work/cordond.log" >&2; exit 1; }

echo "== tunnel throughput: $build/bench/bench_tunnel run $port $tunnel KEY $mib $rounds"
"$bench" run "$port" "$tunnel" "$work/keys/agent.key" "$mib" "$rounds" "$spid"
# every tunnel was recorded with its byte count
closes=$(grep -c '"kind":"tunnel.close"' "$work/state/audit/audit.jsonl" || true)
echo "tunnel.close records: $closes"
