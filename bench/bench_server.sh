#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start a private cordond (single-policy mode, audit fsync off so the disk is not measured)
# and run bench_server against it: policy fetch latency beside a bare libmicrohttpd server
# with the same thread count, tunnel throughput beside a direct connection.
#   bench/bench_server.sh [BUILD_DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
T=$(mktemp -d /tmp/cordon-bench-XXXXXX)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$T"' EXIT
"$B/tools/cordon" keygen "$T/sign" >/dev/null
cat > "$T/bench.json" <<JSON
{"cordon_policy": 1, "agent": "bench", "sandbox": {"network": {"mode": "proxy", "allow": ["127.0.0.1:*"]}}}
JSON
KEY=ck_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | head -c 42)A
printf '%s\n' "$KEY" > "$T/key"; chmod 600 "$T/key"
"$B/policy/server/cordond" --policy "$T/bench.json" --agent-key-file "$T/key" \
    --signing-key "$T/sign.key" --state-dir "$T/state" --listen 127.0.0.1:0 \
    --tunnel-listen 127.0.0.1:0 --events-socket off --audit-fsync none --threads 2 \
    --ready-file "$T/ready" 2>"$T/log" &
PID=$!
for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.05; done
"$B/bench/bench_server" "$(sed -n 's/^http=//p' "$T/ready")" "$(sed -n 's/^tunnel=//p' "$T/ready")" "$KEY" 2
