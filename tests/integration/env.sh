#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sandbox.env: credentials planted in the agent's environment never reach it. A static probe
# (tests/integration/envprobe.c, no shim can run in it, plain system calls) and the same
# probe built dynamically read getenv() and /proc/PID/environ under LD_PRELOAD alone (the
# shim's constructor scrubs the root in place) and under `cordon run` (which never passes
# them, against the real cordond, whose audit log names them). Control: the same probe
# without cordon sees every value.
#   env.sh CORDON_BINARY SOURCE_DIR
CORDON=$(realpath "$1")
SRC=$(realpath "$2")
. "$SRC/tests/integration/lib.sh"
unset CORDON_SERVER CORDON_KEY CORDON_TRUST CORDON_POLICY CORDON_PROFILE XDG_STATE_HOME
unset XDG_RUNTIME_DIR
SHIM=$(cd "$(dirname "$CORDON")/../shim" && pwd)/libcordon.so
V=$(mktemp -d /var/tmp/cordon-it-XXXXXX)
trap 'rm -rf "$T" "$V" "$FX"' EXIT
WS=$T/ws
mkdir -p "$WS/bin" "$T/keys"
cd "$T"

if ! gcc -static -O1 -o "$WS/bin/envprobe" "$SRC/tests/integration/envprobe.c"; then
    if [ "${CI:-}" = true ]; then bad "gcc -static builds the probe"; finish; exit 1; fi
    echo "skip: gcc -static is unavailable (install libc6-dev)"; exit 77
fi
gcc -O1 -o "$WS/bin/envprobe_dyn" "$SRC/tests/integration/envprobe.c" || {
    bad "gcc builds the dynamic probe"; finish; exit 1; }
# static: no program interpreter, so no dynamic loader and no preloaded library ever runs in it
if readelf -l "$WS/bin/envprobe" | grep -q 'INTERP'; then
    bad "the probe is static" "$(readelf -l "$WS/bin/envprobe" | grep -A1 INTERP)"
else ok "the probe is static"; fi

# The planted credentials, each a value that appears nowhere else, and one harmless variable
# that must survive (the probe's own control).
SECRETS=(AWS_SECRET_ACCESS_KEY=aws-planted-7Qx2 GITHUB_TOKEN=ghp_planted9Zr1
         STRIPE_SECRET_KEY=sk_planted_5Hn3 DATABASE_URL=postgres://u:pw-planted-Lm4@db/x
         SSH_AUTH_SOCK=/tmp/ssh-planted-Kd8/agent.1 PGPASSWORD=pg-planted-Wc6)
KEEP=ENVTEST_KEEP=keep-planted-Tt0
printf '%s\n' "${SECRETS[@]}" "$KEEP" > "$WS/expect"
ARGS=("$WS/expect")
PLANT=(env "${SECRETS[@]}" "$KEEP")
# each_secret NAME PATTERN: each secret's line in $OUT matches PATTERN
each_secret() {
    local name=$1 want=$2 s n
    for s in "${SECRETS[@]}"; do
        n=${s%%=*}
        case "$OUT" in *"$n $want"*) ok "$name: $n" ;; *) bad "$name: $n" "want: $n $want" "$OUT" ;; esac
    done
}
no_value() {
    local s
    for s in "${SECRETS[@]}"; do
        case "$OUT" in *"${s#*=}"*) bad "$1" "the value of ${s%%=*} appeared" "$OUT"; return ;; esac
    done
    ok "$1"
}

# ---------------------------------------------------------------- control: without cordon
run "control: the static probe runs" 0 "${PLANT[@]}" "$WS/bin/envprobe" "${ARGS[@]}"
each_secret "control: without cordon the value is visible" "getenv=present environ=present"
run "control: a shell's own block holds the values" 0 "${PLANT[@]}" bash -c \
    '"$0" --proc /proc/$$/environ "$@"; true' "$WS/bin/envprobe" "${ARGS[@]}"
each_secret "control: /proc/PID/environ of a shell without cordon" "getenv=present environ=present"

# ---------------------------------------------------------------- LD_PRELOAD alone
"$CORDON" keygen keys/k >/dev/null
FS='"filesystem":{"read_write":["${workspace}","${tmp}"],"read_only":["${cwd}"]}'
EXEC='"exec":{"allow":["*","${workspace}/bin"]}'
sign() { # sign NAME POLICY_JSON: $FX/NAME.env
    printf '%s\n' "$2" > "$FX/$1.json"
    "$CORDON" sign --key keys/k.key --version 1 --expires 1h "$FX/$1.json" > "$FX/$1.env" 2>/dev/null
}
sign offline '{"cordon_policy":1,"agent":"it-env","sandbox":{"enforcement":"best_effort",'"$FS,$EXEC"',"network":{"mode":"none"}}}'
sign allow '{"cordon_policy":1,"agent":"it-env","sandbox":{"enforcement":"best_effort",'"$FS,$EXEC"',"network":{"mode":"none"},"env":{"allow":["GITHUB_TOKEN"],"hide":["ENVTEST_*"]}}}'
PRE=(env CORDON_TRUST="$T/keys/k.pub" CORDON_WORKSPACE="$WS" CORDON_POLICY="$FX/offline.env")

run "preload: the dynamic probe runs as the root" 0 "${PLANT[@]}" "${PRE[@]}" LD_PRELOAD="$SHIM" \
    "$WS/bin/envprobe_dyn" "${ARGS[@]}"
each_secret "preload: the root's own getenv and /proc/self/environ" "getenv=absent environ=absent"
has "preload: a variable no rule hides stays" "ENVTEST_KEEP getenv=present environ=present"
no_value "preload: no value printed"
has "preload: the shim says what it hid, and how to pass one on" \
    "cordon: sandbox.env hid ${#SECRETS[@]} variables from the agent: AWS_SECRET_ACCESS_KEY GITHUB_TOKEN"

run "preload: a static program the root starts" 0 "${PLANT[@]}" "${PRE[@]}" LD_PRELOAD="$SHIM" \
    bash -c '"$0" "$@"; "$0" --proc /proc/$$/environ "$@"; true' "$WS/bin/envprobe" "${ARGS[@]}"
each_secret "preload: the static child sees nothing" "getenv=absent environ=absent"
n=$(grep -c "getenv=absent environ=absent" <<<"$OUT")
[ "$n" -eq $((2 * ${#SECRETS[@]})) ] && ok "preload: the root shell's /proc/PID/environ too (read by the static child)" ||
    bad "preload: the root shell's /proc/PID/environ too (read by the static child)" "$OUT"
has "preload: the harmless variable reaches the child" "ENVTEST_KEEP getenv=present environ=present"

run "preload: allow wins over the default set, hide adds to it" 0 "${PLANT[@]}" "${PRE[@]}" \
    CORDON_POLICY="$FX/allow.env" LD_PRELOAD="$SHIM" "$WS/bin/envprobe_dyn" "${ARGS[@]}"
has "preload: GITHUB_TOKEN allowed" "GITHUB_TOKEN getenv=present environ=present"
has "preload: the policy's own hide rule" "ENVTEST_KEEP getenv=absent environ=absent"
has "preload: the default set still hides the rest" "AWS_SECRET_ACCESS_KEY getenv=absent environ=absent"

# ---------------------------------------------------------------- cordon run, real cordond
cat > "$FX/plain.json" <<'J'
{"cordon_policy":1,"agent":"it-env-run","sandbox":{"enforcement":"best_effort",
 "filesystem":{"read_write":["${workspace}","${tmp}"],"read_only":["${cwd}"]},
 "exec":{"allow":["*","${workspace}/bin"]},"network":{"mode":"proxy"}},"poll_seconds":60}
J
AUD=$V/audit
cd "$WS"
run "cordon run: the static probe under the shell it starts" 0 "${PLANT[@]}" \
    OPENAI_API_KEY=sk-provider-planted-Jq3 "$CORDON" run --policy "$FX/plain.json" --audit "$AUD" \
    -- sh -c '"$0" "$@"; "$0" --proc /proc/$$/environ "$@"; echo "openai-key-prefix=${OPENAI_API_KEY%%_*}"' \
    "$WS/bin/envprobe" "${ARGS[@]}"
n=$(grep -c "getenv=absent environ=absent" <<<"$OUT")
[ "$n" -eq $((2 * ${#SECRETS[@]})) ] && ok "cordon run: no hidden value in the agent's getenv or environ blocks" ||
    bad "cordon run: no hidden value in the agent's getenv or environ blocks" "$OUT"
has "cordon run: the harmless variable reaches the agent" "ENVTEST_KEEP getenv=present environ=present"
has "cordon run: OPENAI_API_KEY holds the run's session token" "openai-key-prefix=cs"
no_value "cordon run: no value printed"
has "cordon run: it says what it hid" "cordon run: sandbox.env hid ${#SECRETS[@]} variables from the agent:"
case "$OUT" in *sk-provider-planted-Jq3*) bad "cordon run: the provider key stays with cordond" "$OUT" ;;
    *) ok "cordon run: the provider key stays with cordond" ;; esac

run "audit: the enforcement report" 0 "$CORDON" audit query "$AUD" --kind sandbox.report --json
for s in "${SECRETS[@]}"; do
    has "audit: the report names ${s%%=*}" "\"${s%%=*}\""
done
has "audit: the report counts them" "\"hidden\":${#SECRETS[@]}"
no_value "audit: no hidden value in the audit record"
grep -rq -e aws-planted-7Qx2 -e ghp_planted9Zr1 -e pg-planted-Wc6 "$AUD" &&
    bad "audit: no value anywhere in the log directory" || ok "audit: no value anywhere in the log directory"
run "audit: the log verifies" 0 "$CORDON" audit verify "$AUD"

# ---------------------------------------------------------------- cordon exec (kernel layer alone)
run "cordon exec: the static probe itself" 0 "${PLANT[@]}" "$CORDON" exec --policy "$FX/plain.json" \
    --report -- "$WS/bin/envprobe" "${ARGS[@]}"
each_secret "cordon exec: the command never gets it" "getenv=absent environ=absent"
has "cordon exec: the harmless variable passes" "ENVTEST_KEEP getenv=present environ=present"
has "cordon exec: the report names what was hidden" '"GITHUB_TOKEN"'
no_value "cordon exec: no value in the report"

# ---------------------------------------------------------------- cordon explain
run "explain: lists what this environment would lose" 0 "${PLANT[@]}" "$CORDON" explain "$FX/plain.json"
for s in "${SECRETS[@]}"; do
    has "explain: names ${s%%=*}" "hidden now   ${s%%=*} ("
done
no_value "explain: never a value"
run "explain --json: the same, for programs" 0 "${PLANT[@]}" "$CORDON" explain --json "$FX/plain.json"
has "explain --json: hidden_now" '"hidden_now"'
has "explain --json: a name with its rule" '"name":	"GITHUB_TOKEN"'
no_value "explain --json: never a value"

finish
