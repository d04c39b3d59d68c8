#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The latency per request that sandbox.network.http adds: the same loopback origin
# (bench/static_responder, keep-alive, a small JSON answer) reached straight, through an
# opaque tunnel of one cordond whose policy only allows 127.0.0.1:PORT, and through a judged
# tunnel of a second cordond whose policy names the same endpoint in sandbox.network.http with
# a few rules (each request parsed, normalized, matched against the rules, re-framed to the
# origin and audited as http.request). bench/bench_http_rules.c drives small GETs the rules
# allow over keep-alive connections, one tunnel each, at each concurrency, in interleaved
# rounds; prints the medians of each run's p50 and p99, the judged minus opaque difference
# and each cordond's CPU per request (its audit writer included).
# With --tls, the same over TLS: the origin (static_responder --tls) has a certificate for
# 127.0.0.1 from a test CA made here with openssl, the client does TLS end to end straight and
# through the opaque tunnel, and the second cordond terminates it ("tls": "terminate", with a
# deployment CA from `cordon keygen --ca` and the test CA as --origin-ca); then the new TLS
# connections per second of each path, HANDSHAKES=SECONDS,THREADS per run (default 1,32).
#   bench/bench_http_rules.sh [--tls] [BUILD_DIR [REQUESTS [ROUNDS [CONCURRENCY,...]]]]
#   (default: build 20000 7 1,32)
# CORDOND=PATH measures another cordond binary (an older build, say) with the same client.
# SCAN=1: the judged host also has "scan": true, with api.data redacting e-mail addresses and
# blocking card numbers, and the origin's answer names an address, so that every response is
# scanned, held, rewritten and sent with its new length.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
tls=
if [ "${1:-}" = --tls ]; then tls=1; shift; fi
build=${1:-build}
requests=${2:-20000}
rounds=${3:-7}
concs=${4:-1,32}
cordon=$src/$build/tools/cordon
cordond=${CORDOND:-$src/$build/policy/server/cordond}
bench=$src/$build/bench/bench_http_rules
work=$(mktemp -d /var/tmp/cordon-bench-XXXXXX)
pids=()
# cordond closes its audit log on SIGTERM (its writer writes the last checkpoint): wait for
# that before removing the directory, or the checkpoint lands in a removed tree
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

# a small JSON answer, as an API would give one order
body='{"id":1042,"status":"shipped","total":"129.90","currency":"EUR"}'
scan= data=
if [ -n "${SCAN:-}" ]; then
    body='{"id":1042,"status":"shipped","total":"129.90","currency":"EUR","contact":"ada.lovelace@example.org"}'
    scan=',"scan":true' data=',"api":{"data":{"pii.email":"redact","pii.credit_card":"block"}}'
fi
printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
    "${#body}" "$body" > "$work/response"
origin_tls=() judged_tls=() bench_tls=() mode=none
if [ -n "$tls" ]; then
    # a test CA and the origin's P-256 certificate for 127.0.0.1 (what cordond mints is P-256)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=bench-ca -keyout "$work/ca.key" -out "$work/ca.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
        -keyout "$work/origin.key" -out "$work/origin.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$work/ext.cnf"
    openssl x509 -req -in "$work/origin.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
        -CAcreateserial -days 2 -extfile "$work/ext.cnf" -out "$work/origin.pem" 2>/dev/null
    mkdir -p "$work/judged"
    "$cordon" keygen --ca "$work/judged/deploy" >/dev/null
    # the client trusts the origin's CA (direct, opaque) and cordond's (terminated)
    cat "$work/ca.pem" "$work/judged/deploy.ca.pem" > "$work/client-ca.pem"
    origin_tls=(--tls "$work/origin.pem" "$work/origin.key")
    judged_tls=(--tls-ca "$work/judged/deploy" --origin-ca "$work/ca.pem")
    bench_tls=(--tls "$work/client-ca.pem" --handshakes "${HANDSHAKES:-1,32}")
    mode=terminate
fi
"$src/$build/bench/static_responder" --response "$work/response" --ready-file "$work/origin" \
    "${origin_tls[@]}" & pids+=($!)
# the origin's CPU per handshake is the direct new-connection figure that its client cannot move
if [ -n "$tls" ]; then bench_tls+=(--origin-pid "$!"); fi
wait_file "$work/origin" || { echo "bench_http_rules: the origin did not start" >&2; exit 1; }
port=$(sed -n 's/^port=//p' "$work/origin")

mkdir -p "$work/keys"
"$cordon" keygen "$work/keys/k" >/dev/null
key=ck_$(python3 -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
printf '%s\n' "$key" > "$work/keys/agent.key"; chmod 600 "$work/keys/agent.key"

# opaque: the endpoint is allowed and nothing more
cat > "$work/opaque.json" <<J
{"cordon_policy":1,"agent":"bench","sandbox":{"enforcement":"best_effort",
 "network":{"mode":"proxy","allow":["127.0.0.1:$port"]}},"poll_seconds":3600}
J
# judged: the same endpoint with rules; the benchmark's GET /api/orders/1042?... is allowed
# by the third, after two that do not match it
cat > "$work/judged.json" <<J
{"cordon_policy":1,"agent":"bench","sandbox":{"enforcement":"best_effort",
 "network":{"mode":"proxy","allow":["127.0.0.1:$port"],
   "http":[{"host":"127.0.0.1:$port","tls":"$mode",
            "rules":[{"path":"/api/customers/export*","action":"deny"},
                     {"method":["GET","HEAD"],"path":"/api/customers/*","action":"allow"},
                     {"method":"GET","path":"/api/orders/*","action":"allow"},
                     {"method":"POST","path":"/api/notes","action":"allow"}],
            "default":"deny"$scan}]}}$data,"poll_seconds":3600}
J
start_cordond() { # NAME [FLAG...]: cordond on $work/NAME.json; sets started_pid, started_tunnel
    local name=$1; shift
    mkdir -p "$work/$name"
    "$cordond" --policy "$work/$name.json" --agent-key-file "$work/keys/agent.key" \
        --signing-key "$work/keys/k.key" --state-dir "$work/$name" --listen 127.0.0.1:0 \
        --tunnel-listen 127.0.0.1:0 --events-socket off --ready-file "$work/$name.ready" "$@" \
        > "$work/$name.log" 2>&1 & pids+=($!)
    started_pid=$!
    if ! wait_file "$work/$name.ready"; then
        echo "bench_http_rules: cordond ($name) did not start:" >&2; cat "$work/$name.log" >&2
        exit 1
    fi
    started_tunnel=$(sed -n 's/^tunnel=//p' "$work/$name.ready")
}
start_cordond opaque
pid_opaque=$started_pid tun_opaque=$started_tunnel
start_cordond judged "${judged_tls[@]}"
pid_judged=$started_pid tun_judged=$started_tunnel

shown=${tls:+"--tls CAS --handshakes ${HANDSHAKES:-1,32} --origin-pid PID "}
echo "== $build/bench/bench_http_rules $shown$port $tun_opaque $tun_judged KEY $requests $rounds" \
    "$concs PID PID   ($(nproc) CPUs)"
"$bench" "${bench_tls[@]}" "$port" "$tun_opaque" "$tun_judged" "$work/keys/agent.key" \
    "$requests" "$rounds" "$concs" "$pid_opaque" "$pid_judged"
# the judged cordond read and recorded every request; the opaque one none
sleep 0.5
judged=$(cat "$work"/judged/audit/*.jsonl | grep -c '"kind":"http.request"' || true)
allowed=$(cat "$work"/judged/audit/*.jsonl | grep '"kind":"http.request"' |
    grep -c '"decision":"allow"' || true)
opaque=$(cat "$work"/opaque/audit/*.jsonl | grep -c '"kind":"http.request"' || true)
rewritten=$(cat "$work"/judged/audit/*.jsonl | grep '"kind":"http.request"' |
    grep -c '"data_rewritten":1' || true)
echo "http.request records: judged $judged ($allowed allowed${SCAN:+, $rewritten with the address redacted}), opaque $opaque"
