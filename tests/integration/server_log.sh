#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cordond's log: one line per event on standard error, level=... msg="..." key=value; the
# same events as JSON objects with --log-format json; --log-file reopened on SIGHUP, so that
# a rotated file stops receiving lines and the new one gets them. A policy file whose name
# holds a quote, spaces and an '=' makes a refusal whose value must stay one quoted value.
#   server_log.sh CORDOND CORDON SOURCE_DIR
CORDOND=$(realpath "$1")
CORDON=$(realpath "$2")
SRC=$3
. "$SRC/tests/integration/lib.sh"
W=$T/w
mkdir -p "$W/pol"
"$CORDON" keygen "$W/sign" >/dev/null 2>&1 || { bad "keygen"; finish; exit 1; }
echo '{"cordon_policy":1,"agent":"it-log"}' > "$W/pol/it-log.json"
cat > "$W/cordond.conf" <<CONF
listen 127.0.0.1:0
tunnel_listen 127.0.0.1:0
policies_dir $W/pol
signing_key $W/sign.key
audit_key $W/sign.key
state_dir $W/state
ready_file $W/ready
CONF
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T" "$FX"' EXIT

# start ARGS...: cordond with the config and ARGS, its stderr in $W/stderr; waits for ready
start() {
    rm -f "$W/ready"
    "$CORDOND" --config "$W/cordond.conf" "$@" 2>"$W/stderr" &
    SPID=$!; PIDS+=($SPID)
    for _ in $(seq 200); do [ -s "$W/ready" ] && return 0; sleep 0.05; done
    return 1
}
stop() {
    kill -TERM "$SPID"; wait "$SPID" 2>/dev/null
}
# wait_for FILE TEXT: until FILE holds TEXT (5 s at most)
wait_for() {
    for _ in $(seq 100); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}
# every line of FILE in the form FORM (text|json), printed as JSON objects; exit 1 on a bad one
check_lines() {
    python3 - "$1" "$2" <<'PY'
import json, re, sys
path, form = sys.argv[1], sys.argv[2]
tok = re.compile(r'([a-z0-9_]+)=("(?:[^"\\\x00-\x1f\x7f]|\\["\\nrt]|\\x[0-9a-f]{2})*"|[^\s"=\\]+)(?: |$)')
bad = 0
for n, raw in enumerate(open(path, "rb").read().split(b"\n")[:-1], 1):
    line = raw.decode("utf-8")  # every line is UTF-8
    if form == "json":
        obj = json.loads(line)
        ok = list(obj)[:2] == ["level", "msg"] or list(obj)[:3] == ["time", "level", "msg"]
        ok = ok and all(isinstance(v, str) for v in obj.values())
    else:
        obj, pos = {}, 0
        while pos < len(line):
            m = tok.match(line, pos)
            if not m:
                break
            v = m.group(2)
            if v.startswith('"'):
                v = re.sub(r'\\x([0-9a-f]{2})', lambda x: chr(int(x.group(1), 16)), v[1:-1])
                v = v.replace('\\"', '"').replace('\\n', '\n').replace('\\r', '\r').replace('\\t', '\t').replace('\\\\', '\\')
            obj[m.group(1)] = v
            pos = m.end()
        keys = list(obj)
        ok = pos == len(line) and (keys[:2] == ["level", "msg"] or keys[:3] == ["time", "level", "msg"])
    if not ok:
        print("BAD LINE %d: %r" % (n, line)); bad += 1
    else:
        print(json.dumps(obj))
sys.exit(1 if bad else 0)
PY
}

# ---------------------------------------------------------------- text on standard error
start && ok "cordond started" || { bad "cordond started" "$(cat "$W/stderr")"; finish; exit 1; }
run "every start line is level=... msg=... key=value" 0 check_lines "$W/stderr" text
has "the serving line names the version and the listeners" '"msg": "serving", "version": '
grep -qE '^level=info msg=serving version=[0-9.]+ http=127\.0\.0\.1:[0-9]+ tunnel=127\.0\.0\.1:[0-9]+' "$W/stderr" &&
    ok "serving: level first, then msg, then its keys" || bad "serving line" "$(cat "$W/stderr")"
# a hostile name: quote, spaces, '=', a backslash
HOSTILE="$W/pol/it\"x y=z\\.json"
echo '{"cordon_policy":1,"agent":"it-log","mode":"observ"}' > "$HOSTILE"
kill -HUP "$SPID"
wait_for "$W/stderr" 'msg="policy reload refused' && ok "SIGHUP: the refused reload is logged" ||
    bad "SIGHUP: the refused reload is logged" "$(cat "$W/stderr")"
run "the hostile values stay inside their quotes" 0 check_lines "$W/stderr" text
has "the refusal's error carries the file name intact" 'it\"x y=z\\.json'
has "the refusal names its trigger" '"trigger": "sighup"'
rm -f "$HOSTILE"
kill -HUP "$SPID"
wait_for "$W/stderr" 'msg="policy set reloaded" trigger=sighup' && ok "SIGHUP: the reload is logged" ||
    bad "SIGHUP: the reload is logged" "$(cat "$W/stderr")"
stop
grep -q '^level=info msg=stopping exit_status=0$' "$W/stderr" && ok "stopping is logged" ||
    bad "stopping is logged" "$(tail -3 "$W/stderr")"
n=$(grep -vc '^level=' "$W/stderr")
[ "$n" = 0 ] && ok "nothing but log lines on standard error" || bad "only log lines" "$(grep -v '^level=' "$W/stderr")"

# ---------------------------------------------------------------- JSON into a file, rotated
LOG=$W/cordond.log
start --log-format json --log-file "$LOG" && ok "cordond started with --log-file" ||
    { bad "cordond started with --log-file" "$(cat "$W/stderr")"; finish; exit 1; }
wait_for "$LOG" '"msg":"serving"' && ok "the file gets the serving line" || bad "serving in the file" "$(cat "$LOG")"
[ ! -s "$W/stderr" ] && ok "standard error stays empty" || bad "standard error stays empty" "$(cat "$W/stderr")"
run "every line is a JSON object with time, level and msg first" 0 check_lines "$LOG" json
has "json: the serving line" '"msg": "serving"'
has "json: lines carry a UTC time with milliseconds" '"time": "20'
[ "$(stat -c %a "$LOG")" = 600 ] && ok "the log file is 0600" || bad "the log file is 0600" "$(stat -c %a "$LOG")"
mv "$LOG" "$LOG.1"
kill -HUP "$SPID"
wait_for "$LOG" '"msg":"policy set reloaded"' && ok "after rotation and SIGHUP, new lines land in the new file" ||
    bad "after rotation and SIGHUP, new lines land in the new file" "$(cat "$LOG" 2>&1)" "$(cat "$LOG.1")"
grep -q '"policy set reloaded"' "$LOG.1" && bad "the rotated file gets no new line" "$(cat "$LOG.1")" ||
    ok "the rotated file gets no new line"
stop
grep -q '"msg":"stopping"' "$LOG" && ok "stopping lands in the new file" || bad "stopping in the new file" "$(cat "$LOG")"
run "the new file's lines are JSON too" 0 check_lines "$LOG" json

# ---------------------------------------------------------------- usage errors
run "an unknown --log-format is a usage error" 2 "$CORDOND" --config "$W/cordond.conf" --log-format xml --check-config
has "it says what is accepted" '--log-format xml: expected text or json'
run "a --log-file that cannot be opened stops the start" 1 "$CORDOND" --config "$W/cordond.conf" \
    --log-file "$W/no/such/dir/log" --check-config
has "it says what failed and what to do" 'cannot open it for appending: No such file or directory; create its directory'
finish
