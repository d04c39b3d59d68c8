#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# libcordon.so, `cordon run` and `cordon doctor` against real programs, the real kernel
# sandbox and a loopback cordond stand-in (tests/support/cordond_stub.py, which implements
# the policy fetch, the CONNECT tunnel and the event channel of docs/PROTOCOL.md). A
# temporary HOME holds planted credentials that must never be read.
#   shim.sh CORDON_BINARY SOURCE_DIR
CORDON=$(realpath "$1")
SRC=$2
. "$SRC/tests/integration/lib.sh"
SHIM=$(cd "$(dirname "$CORDON")/../shim" && pwd)/libcordon.so
STUB=$SRC/tests/support/cordond_stub.py
ORIGIN=$SRC/tests/support/http_origin.py
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T" "$FX"; }
trap cleanup EXIT

# Credentials that must stay unread.
mkdir -p "$HOME/.ssh" "$HOME/.aws"
echo "PRIVATE-KEY-MATERIAL" > "$HOME/.ssh/id_rsa"
echo "aws_secret_access_key=AWS-SECRET" > "$HOME/.aws/credentials"
WS=$T/ws
mkdir -p "$WS/bin" "$T/keys"
cd "$T"
"$CORDON" keygen keys/k >/dev/null && "$CORDON" keygen keys/other >/dev/null
KEY=ck_$(python3 -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
printf '%s\n' "$KEY" > keys/agent.key && chmod 600 keys/agent.key

# The system python (a pyenv shim under /root would lie outside the sandbox's grants).
PY=$(command -v /usr/bin/python3 || command -v python3)
leaked() { case "$OUT" in *PRIVATE-KEY-MATERIAL*|*AWS-SECRET*) return 0 ;; esac; return 1; }
no_leak() { if leaked; then bad "$1" "a planted credential appeared in the output" "$OUT"; else ok "$1"; fi; }
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

sign() { # sign NAME VERSION POLICY_JSON [EXPIRES]: $FX/NAME.json and $FX/NAME.env
    printf '%s\n' "$3" > "$FX/$1.json"
    "$CORDON" sign --key keys/k.key --version "$2" --expires "${4:-1h}" "$FX/$1.json" > "$FX/$1.env" 2>/dev/null
}

# The static probe and the hook probe live in the workspace, where the policy allows exec.
printf '#include <stdio.h>\nint main(int c,char**v){FILE*f=fopen(v[1],"r");printf("static:%%s\\n",f?"READ":"denied");return 0;}\n' > static.c
gcc -static -O1 -o "$WS/bin/static_probe" static.c 2>/dev/null || echo "note: gcc -static unavailable"
gcc -O2 -D_FORTIFY_SOURCE=2 -o "$WS/bin/hookprobe" "$SRC/tests/integration/hookprobe.c"
# rawexec VAR=VALUE|-VAR... -- PROG ARGS: execve by a raw system call (the exec hooks and the
# environment they re-inject never see it), with the variables changed as given.
cat > rawexec.c <<'C'
#include <stdlib.h>
#include <string.h>
extern char **environ;
static long sys_execve(const char *p, char **a, char **e)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(59L), "D"(p), "S"(a), "d"(e) : "rcx", "r11", "memory");
    return r;
}
int main(int c, char **v)
{
    int i = 1;
    for (; i < c && strcmp(v[i], "--"); i++)
        if (v[i][0] == '-') unsetenv(v[i] + 1); else putenv(v[i]);
    sys_execve(v[i + 1], v + i + 1, environ);
    return 127;
}
C
if [ "$(uname -m)" = x86_64 ]; then gcc -O1 -o "$WS/bin/rawexec" rawexec.c; fi

FS='"filesystem":{"read_write":["${workspace}","${tmp}"],"read_only":["${cwd}"]}'
EXEC='"exec":{"allow":["*","${workspace}/bin"],"deny":["rm"]}'
sign offline 10 '{"cordon_policy":1,"agent":"it-offline","sandbox":{"enforcement":"best_effort",'"$FS,$EXEC"',"network":{"mode":"none"}}}'

# ---------------------------------------------------------------- offline, through the profile
export CORDON_POLICY=$FX/offline.env CORDON_TRUST=$T/keys/k.pub CORDON_WORKSPACE=$WS
P() { LD_PRELOAD=$SHIM "$@"; }

run "profile: cat of ~/.ssh/id_rsa fails" 1 env LD_PRELOAD="$SHIM" cat "$HOME/.ssh/id_rsa"
has "profile: the denial names the rule" 'filesystem.deny "~/.ssh"'
has "profile: the denial names the policy" '(policy it-offline v10)'
has "profile: offline mode says decisions are not recorded" 'not recorded by cordond'
no_leak "profile: the key did not leak"

run "python open of ~/.aws/credentials raises" 0 env LD_PRELOAD="$SHIM" "$PY" -c "
import os
try:
    open(os.path.expanduser('~/.aws/credentials')).read(); print('READ')
except PermissionError as e: print('PermissionError', e.errno)"
has "python: PermissionError with EACCES" 'PermissionError 13'
has "python: the rule is named" 'filesystem.deny "~/.aws"'
no_leak "python: the secret did not leak"

touch "$WS/victim"
run "exec of a denied program fails" 0 env LD_PRELOAD="$SHIM" sh -c "rm $WS/victim; echo status=\$?"
has "exec: denied with the rule" 'sandbox.exec.deny "rm"'
[ -e "$WS/victim" ] && ok "exec: the file rm was asked to delete is still there" || bad "exec: rm ran"

OUT=$(P sh -c 'env -i /bin/cat "$0/.ssh/id_rsa"' "$HOME" 2>&1)
has "env -i child: the shim came back (hook line, not only the kernel)" 'filesystem.deny "~/.ssh"'
no_leak "env -i child: no leak"

OUT=$(P "$PY" -c '
import subprocess
r = subprocess.run(["/usr/bin/env"], env={}, capture_output=True, text=True)
print("session-in-child" if "CORDON_SESSION=" in r.stdout and "LD_PRELOAD=" in r.stdout else r.stdout)' 2>&1)
has "python env={}: the child gets the profile and the mark back" 'session-in-child'

cat > "$WS/deep.sh" <<'DEEP'
d=$1
if [ "$d" -lt 50 ]; then sh "$0" $((d + 1)); exit $?; fi
cat "$HOME/.ssh/id_rsa" 2>&1 | tail -1
echo "depth $d reached"
DEEP
run "a process tree 50 levels deep starts (no 16-layer failure)" 0 env LD_PRELOAD="$SHIM" sh "$WS/deep.sh" 1
has "deep tree: level 50 ran" 'depth 50 reached'
has "deep tree: level 50 is still denied by the hook" 'Permission denied'
no_leak "deep tree: no leak"

if [ -x "$WS/bin/static_probe" ]; then
    run "static child: runs" 0 env LD_PRELOAD="$SHIM" sh -c "$WS/bin/static_probe $HOME/.ssh/id_rsa"
    has "static child: the kernel still denies the read" 'static:denied'
fi

# Every hook's denial path, from a C program (fortified, 64-bit and list variants included).
for h in open open64 openat open-plain open64-plain openat-plain openat64-plain creat creat64 \
         fopen fopen64 freopen freopen64 syscall-open syscall-openat syscall-openat2; do
    tgt="$HOME/.ssh/id_rsa"; case "$h" in creat*) tgt="$HOME/.ssh/new" ;; esac
    run "hook $h: refused" 0 env LD_PRELOAD="$SHIM" "$WS/bin/hookprobe" "$h" "$tgt"
    has "hook $h: returns EACCES" "$h rc=-1 errno=Permission denied"
    has "hook $h: the hook (not just the kernel) named the rule" 'filesystem.deny "~/.ssh"'
done
[ ! -e "$HOME/.ssh/new" ] && ok "hook creat: nothing was created" || bad "hook creat: file created"
for h in execv execl execle execveat fexecve posix_spawn syscall-execve; do
    run "hook $h: refused" 0 env LD_PRELOAD="$SHIM" "$WS/bin/hookprobe" "$h" /usr/bin/rm
    has "hook $h: EACCES and the rule" 'sandbox.exec.deny "rm"'
done
for h in execvp execlp execvpe posix_spawnp; do
    run "hook $h: refused after the PATH search" 0 env LD_PRELOAD="$SHIM" "$WS/bin/hookprobe" "$h" rm
    has "hook $h: the rule" 'sandbox.exec.deny "rm"'
done
run "hook popen: the shell runs, rm inside it is refused" 0 env LD_PRELOAD="$SHIM" "$WS/bin/hookprobe" popen "rm $WS/victim"
has "hook popen: rm refused in the child" 'sandbox.exec.deny "rm"'
run "hook system: the shell runs, rm inside it is refused" 0 env LD_PRELOAD="$SHIM" "$WS/bin/hookprobe" system "rm $WS/victim"
has "hook system: rm refused in the child" 'sandbox.exec.deny "rm"'
run "close/close_range of the shim's fds: the exec'd child stays governed" 1 env LD_PRELOAD="$SHIM" "$WS/bin/hookprobe" close-own "$HOME/.ssh/id_rsa"
has "close-own: the child's hook named the rule" 'filesystem.deny "~/.ssh"'
run "dup2 over the shim's fds: the exec'd child stays governed" 1 env LD_PRELOAD="$SHIM" "$WS/bin/hookprobe" dup2-own "$HOME/.ssh/id_rsa"
has "dup2-own: the child's hook named the rule" 'filesystem.deny "~/.ssh"'
OUT=$(P "$PY" -c '
import subprocess
r = subprocess.run(["sh", "-c", "cat ~/.ssh/id_rsa"], capture_output=True, text=True)
print(r.stderr)' 2>&1)
has "python close_fds: the grandchild still has its policy" 'filesystem.deny "~/.ssh"'

OUT=$(P "$PY" -c '
import os, threading
home = os.path.expanduser("~")
errors = []
def work():
    for i in range(200):
        try:
            open(home + "/.ssh/id_rsa").read(); errors.append("read")
        except PermissionError:
            pass
        with open(os.environ["CORDON_WORKSPACE"] + "/ok", "w") as f: f.write("x")
ts = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in ts]
kids = []
for i in range(20):
    pid = os.fork()
    if pid == 0:
        try:
            open(home + "/.ssh/id_rsa").read(); os._exit(3)
        except PermissionError:
            os._exit(0)
    kids.append(pid)
bad = sum(1 for p in kids if os.waitpid(p, 0)[1] != 0)
[t.join() for t in ts]
print("stress", len(errors), bad)' 2>&1)
has "threads and fork under the hooks: every read denied, nothing crashed" 'stress 0 0'

# A forged mark, without the kernel facts behind it, makes a new root: still enforced.
run "forged CORDON_SESSION: treated as a new root" 1 env CORDON_SESSION=00000000000000000000000000000000 CORDON_POLICY_FD=0 LD_PRELOAD="$SHIM" cat "$HOME/.ssh/id_rsa"
has "forged mark: the root path ran (offline note) and denied" 'filesystem.deny "~/.ssh"'
no_leak "forged mark: no leak"
# The same forged mark inside a hardened container (no_new_privs and a seccomp filter of its
# own, as with Kubernetes' RuntimeDefault or systemd's SystemCallFilter=): those two facts
# hold, but cordon's filter is not there, so this is still a new root.
cat > "$T/hardened.py" <<'P'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(38, 1, 0, 0, 0) == 0            # PR_SET_NO_NEW_PRIVS
insn = struct.pack("HBBI", 0x06, 0, 0, 0x7fff0000) # one instruction: SECCOMP_RET_ALLOW
buf = ctypes.create_string_buffer(insn)
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
prog = Prog(1, ctypes.cast(buf, ctypes.c_void_p))
assert libc.prctl(22, 2, ctypes.byref(prog), 0, 0) == 0  # PR_SET_SECCOMP, FILTER
os.execvp(sys.argv[1], sys.argv[1:])
P
run "forged mark in a hardened container: treated as a new root" 1 /usr/bin/python3 "$T/hardened.py" \
    env CORDON_SESSION=00000000000000000000000000000000 LD_PRELOAD="$SHIM" cat "$HOME/.ssh/id_rsa"
has "hardened container: the read is denied" 'filesystem.deny "~/.ssh"'
no_leak "hardened container: no leak"

run "CORDON_LOG=off: no line" 1 env CORDON_LOG=off LD_PRELOAD="$SHIM" cat "$HOME/.ssh/id_rsa"
case "$OUT" in *"cordon:"*) bad "CORDON_LOG=off printed a line" "$OUT" ;; *) ok "CORDON_LOG=off is quiet" ;; esac

sign observe 12 '{"cordon_policy":1,"agent":"it-observe","mode":"observe","sandbox":{"enforcement":"best_effort",'"$FS,$EXEC"',"network":{"mode":"none"}}}'
run "observe mode: the hook lets the call through to the kernel" 1 env CORDON_POLICY="$FX/observe.env" LD_PRELOAD="$SHIM" cat "$HOME/.ssh/id_rsa"
has "observe mode: says what it would have denied" 'cordon: observe: would deny open('
no_leak "observe mode: the kernel sandbox still refused the read"

# ---------------------------------------------------------------- fail closed, before main()
cp "$FX/offline.env" "$FX/tampered.env"
python3 - "$FX/tampered.env" <<'PY'
import base64, json, sys
e = json.load(open(sys.argv[1]))
p = json.loads(base64.b64decode(e["payload"]))
p["sandbox"]["network"]["mode"] = "host"
e["payload"] = base64.b64encode(json.dumps(p).encode()).decode()
json.dump(e, open(sys.argv[1], "w"))
PY
run "tampered envelope: refused, exit 126" 126 env CORDON_POLICY="$FX/tampered.env" LD_PRELOAD="$SHIM" echo RAN
has "tampered: says the signature failed" 'signature'
case "$OUT" in *RAN*) bad "tampered: the program ran" ;; *) ok "tampered: the program never ran" ;; esac
sign expired 11 '{"cordon_policy":1,"agent":"it-offline","sandbox":{"enforcement":"best_effort",'"$FS"'}}' 1s
sleep 1.2
run "expired envelope: refused, exit 126" 126 env CORDON_POLICY="$FX/expired.env" LD_PRELOAD="$SHIM" echo RAN
has "expired: says so and what to do" 'expired'
run "wrong trusted key: refused" 126 env CORDON_TRUST="$T/keys/other.pub" LD_PRELOAD="$SHIM" echo RAN
has "wrong key: points at CORDON_TRUST" 'CORDON_TRUST'
run "no policy source: refused" 126 env -u CORDON_POLICY LD_PRELOAD="$SHIM" echo RAN
has "no source: says what to set" 'set CORDON_SERVER'
run "no trust: refused" 126 env -u CORDON_TRUST LD_PRELOAD="$SHIM" echo RAN
has "no trust: says what to set" 'CORDON_TRUST is not set'
run "server down: refused" 126 env -u CORDON_POLICY CORDON_SERVER=http://127.0.0.1:1 CORDON_KEY="$KEY" LD_PRELOAD="$SHIM" echo RAN
has "server down: names the server and that there is no cache" 'no cached policy'
printf 'CORDON_POLICY=%s\nCORDON_TRUSTT=x\n' "$FX/offline.env" > bad.profile
run "profile file with an unknown name: refused" 126 env -u CORDON_POLICY CORDON_PROFILE="$T/bad.profile" LD_PRELOAD="$SHIM" echo RAN
has "bad profile: names the line" 'profile line 2: unknown variable'
printf 'CORDON_POLICY=%s\n' "$FX/offline.env" > good.profile
run "profile file: fills what the environment lacks" 1 env -u CORDON_POLICY CORDON_PROFILE="$T/good.profile" LD_PRELOAD="$SHIM" cat "$HOME/.ssh/id_rsa"
has "profile file: the policy came from it" '(policy it-offline v10)'
# A profile file the sandbox does not grant: the root reads it before the sandbox, exports
# what it holds and drops CORDON_PROFILE, so descendants start from the environment alone.
PD=$(mktemp -d /var/tmp/cordon-it-profile-XXXXXX)
printf 'CORDON_POLICY=%s\n' "$FX/offline.env" > "$PD/p.profile"
run "profile outside the grants: descendants still start" 0 env -u CORDON_POLICY CORDON_PROFILE="$PD/p.profile" LD_PRELOAD="$SHIM" sh -c 'cat "$1" >/dev/null && echo PROFILE-READABLE; /bin/true && echo CHILD-RAN; echo "PROFILE=${CORDON_PROFILE-unset}"' sh "$PD/p.profile"
has "profile outside the grants: the sandbox hides the file" 'cordon: denied'
has "profile outside the grants: a child ran" 'CHILD-RAN'
has "profile outside the grants: descendants do not see CORDON_PROFILE" 'PROFILE=unset'
case "$OUT" in *PROFILE-READABLE*) bad "profile outside the grants: the file was readable" "$OUT" ;; *) ok "profile outside the grants: the file was not readable" ;; esac
rm -rf "$PD"

# ---------------------------------------------------------------- cordon run, offline
unset CORDON_POLICY CORDON_TRUST CORDON_WORKSPACE
R=("$CORDON" run --policy "$FX/offline.env" --trust "$T/keys/k.pub" --workspace "$WS")
run "cordon run: CMD's exit status" 3 "${R[@]}" -- sh -c 'exit 3'
run "cordon run: 128+N for a signal" 143 "${R[@]}" -- sh -c 'kill -TERM $$'
run "cordon run: hooks active in CMD" 1 "${R[@]}" -- cat "$HOME/.ssh/id_rsa"
has "cordon run: the hook named the rule" 'filesystem.deny "~/.ssh"'
no_leak "cordon run: no leak"
if [ -x "$WS/bin/rawexec" ]; then
    # A descendant loads the hook image; the descriptor must be the memfd the root sealed.
    run "hook image: a replaced CORDON_HOOKS_ID refuses the descendant" 126 "${R[@]}" -- "$WS/bin/rawexec" CORDON_HOOKS_ID=1:2 -- /bin/cat "$HOME/.ssh/id_rsa"
    has "hook image: says the descriptor was replaced" 'CORDON_HOOKS_ID'
    no_leak "hook image replaced: no leak"
    run "hook image: another file at the descriptor number refuses" 126 "${R[@]}" -- "$WS/bin/rawexec" CORDON_HOOKS_FD=0 -- /bin/cat "$HOME/.ssh/id_rsa"
    # Without a hook image, a descendant verifies and compiles the cached envelope itself.
    run "no hook image: the envelope fallback still hooks" 1 "${R[@]}" -- "$WS/bin/rawexec" -CORDON_HOOKS_ID -- /bin/cat "$HOME/.ssh/id_rsa"
    has "envelope fallback: the hook named the rule" 'filesystem.deny "~/.ssh"'
    no_leak "envelope fallback: no leak"
    run "envelope fallback: a replaced digest refuses" 126 "${R[@]}" -- "$WS/bin/rawexec" -CORDON_HOOKS_ID CORDON_POLICY_DIGEST=sha256:00 -- /bin/cat "$HOME/.ssh/id_rsa"
    has "envelope fallback: names CORDON_POLICY_DIGEST" 'CORDON_POLICY_DIGEST'
fi
# A hook image too large for the shim's static decoding space (3,000 paths of 32 bytes: more
# than its 64 KiB) is decoded into a mapping of its own, with the same decisions.
python3 - "$FS" > "$FX/big.json" <<'PY'
import json, sys
fs = json.loads("{" + sys.argv[1] + "}")["filesystem"]
none = "/opt/cordon-it-none/"
print(json.dumps({"cordon_policy": 1, "agent": "it-big", "sandbox": {
    "enforcement": "best_effort", "filesystem": fs, "network": {"mode": "none"},
    "exec": {"allow": ["*", "${workspace}/bin"] + [none + "a%d" % i for i in range(1000)],
             "deny": ["rm"] + [none + "d%d" % i for i in range(1000)],
             "search": [none + "s%d" % i for i in range(1000)] + ["/usr/bin", "/bin"]}}}))
PY
"$CORDON" sign --key keys/k.key --version 1 "$FX/big.json" > "$FX/big.env" 2>/dev/null
cp "$FX/big.json" big.json # a file rm is asked to delete, where the sandbox could
run "large hook image: descendants start and decide" 0 "$CORDON" run --policy "$FX/big.env" --trust "$T/keys/k.pub" --workspace "$WS" -- sh -c 'cat "$HOME/.ssh/id_rsa"; rm -f "$0"; /bin/true && echo LARGE-CHILD-RAN' "$T/big.json"
has "large hook image: the credential read is denied by the hook" 'filesystem.deny "~/.ssh"'
has "large hook image: exec.deny holds in the descendant" 'sandbox.exec.deny "rm" (policy it-big v1)'
has "large hook image: a grandchild ran" 'LARGE-CHILD-RAN'
no_leak "large hook image: no leak"
[ -f big.json ] && ok "large hook image: rm did not run" || bad "large hook image: rm ran"
OUTSIDE=$(mktemp -d /var/tmp/cordon-it-trust-XXXXXX)
cp "$T/keys/k.pub" "$OUTSIDE/k.pub"
run "cordon run: a trust file outside the grants still serves the whole tree" 0 "$CORDON" run --policy "$FX/offline.env" --trust "$OUTSIDE/k.pub" --workspace "$WS" -- sh -c 'sh -c "echo grandchild-ok"'
has "trust outside: the grandchild ran under the shim" 'grandchild-ok'
rm -rf "$OUTSIDE"
# The pipes CMD holds beyond stdio, compared with those a plain `cordon exec` child holds
# (the test harness may itself pass some down).
pipes() { "$@" -- sh -c 'ls -l /proc/$$/fd' 2>/dev/null | awk '$9 >= 3 && $11 ~ /^pipe:/ {print $9}' | sort; }
base_pipes=$(pipes "$CORDON" exec --policy "$FX/offline.env" --trust "$T/keys/k.pub" --workspace "$WS")
run_pipes=$(pipes "${R[@]}")
[ "$base_pipes" = "$run_pipes" ] && ok "cordon run: the handshake pipe is closed in CMD" || bad "cordon run: a pipe leaked into CMD" "exec: $base_pipes" "run: $run_pipes"
run "cordon run: CMD not found" 127 "${R[@]}" -- /nonexistent/cmd
if [ -x "$WS/bin/static_probe" ]; then
    run "cordon run: a static CMD gives no handshake -> 125" 125 "${R[@]}" --timeout-handshake 1 -- "$WS/bin/static_probe" "$HOME/.ssh/id_rsa"
    has "cordon run: says the shim did not load and points at cordon exec" 'cordon exec'
fi
run "cordon run: tampered envelope -> 125" 125 "$CORDON" run --policy "$FX/tampered.env" --trust "$T/keys/k.pub" -- true
run "cordon run: server down -> 125" 125 "$CORDON" run --server http://127.0.0.1:1 --key "$T/keys/agent.key" --trust "$T/keys/k.pub" -- true
has "cordon run: server down explained" 'cannot fetch the policy'
run "cordon run --help" 0 "$CORDON" run --help
has "cordon run --help: exit statuses" '125 cordon refused'
run "cordon doctor: the shim loads here" 0 "$CORDON" doctor
has "cordon doctor: handshake seen" 'loads (/bin/true answered: ok pid='

# ---------------------------------------------------------------- online: fetch, tunnel, events
mkdir -p site && echo "hello-origin" > site/index.html
git init -q --bare site/repo.git 2>/dev/null
git -C site/repo.git symbolic-ref HEAD refs/heads/main
(cd site && git clone -q repo.git work 2>/dev/null && cd work && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m one && git push -q origin HEAD:main 2>/dev/null)
git -C site/repo.git update-server-info
python3 "$ORIGIN" "$T/site" "$T/origin.port" & PIDS+=($!)
wait_file "$T/origin.port" || bad "the origin server did not start"
HP=$(cat "$T/origin.port")
NET='"network":{"mode":"proxy","allow":["127.0.0.1:'$HP'","web.test:'$HP'"]}'
sign online 20 '{"cordon_policy":1,"agent":"it-online","sandbox":{"enforcement":"best_effort",'"$FS,$EXEC,$NET"'},"poll_seconds":5}'
cp "$FX/online.env" served.env
python3 "$STUB" --envelope "$T/served.env" --key "$KEY" --allow "127.0.0.1:$HP" --allow "web.test:$HP" \
    --map web.test=127.0.0.1 --events-sock "$T/events.sock" --log "$T/cordond.log" \
    --unix "$T/api.sock" \
    --port-file "$T/stub.port" & PIDS+=($!)
wait_file "$T/stub.port" || bad "the cordond stand-in did not start"
SP=$(cat "$T/stub.port")
O=("$CORDON" run --server "http://127.0.0.1:$SP" --key "$T/keys/agent.key" --trust "$T/keys/k.pub" --workspace "$WS")

run "curl through the connect hook (CONNECT by the shim)" 0 "${O[@]}" -- curl -sS --noproxy '*' "http://127.0.0.1:$HP/"
has "curl: the origin answered" 'hello-origin'
run "curl through HTTPS_PROXY (CONNECT by curl, key in the URL)" 0 "${O[@]}" -- sh -c "curl -sS --proxytunnel -x \"\$HTTPS_PROXY\" http://web.test:$HP/"
has "curl -x: the origin answered" 'hello-origin'
run "python urllib: a name through the DNS placeholder and the tunnel" 0 "${O[@]}" -- "$PY" -c "import urllib.request as u; print(u.urlopen('http://web.test:$HP/').read().decode())"
has "python urllib: the origin answered" 'hello-origin'
run "python socket to a placeholder: getaddrinfo gave 198.18/15" 0 "${O[@]}" -- "$PY" -c "import socket; print(socket.getaddrinfo('web.test', $HP)[0][4][0])"
has "python: placeholder address" '198.18.'
run "gethostbyname_ex and getnameinfo see the placeholder map" 0 "${O[@]}" -- "$PY" -c "
import socket
name, _, addrs = socket.gethostbyname_ex('web.test')
print('ghbn', addrs[0], socket.getnameinfo((addrs[0], $HP), 0)[0])"
has "gethostbyname_ex: placeholder, getnameinfo: the name back" 'web.test'
case "$OUT" in *"ghbn 198.18."*) ok "gethostbyname_ex gave a 198.18/15 placeholder" ;; *) bad "gethostbyname_ex: no placeholder" "$OUT" ;; esac
run "git ls-remote over http through the tunnel" 0 "${O[@]}" -- git ls-remote "http://web.test:$HP/repo.git"
has "git: the ref is listed" 'refs/heads/main'
if command -v node >/dev/null; then
    run "node fetch (ignores HTTPS_PROXY: the connect hook carries it)" 0 "${O[@]}" -- node -e "fetch('http://web.test:$HP/').then(r=>r.text()).then(t=>console.log('node:'+t.trim()))"
    has "node: the origin answered" 'node:hello-origin'
    run "node child_process: the child is governed" 0 "${O[@]}" -- node -e "const r=require('child_process').spawnSync('cat',[process.env.HOME+'/.ssh/id_rsa'],{encoding:'utf8'});console.log('status',r.status,r.stderr)"
    has "node child: denied by the hook" 'filesystem.deny "~/.ssh"'
    no_leak "node child: no leak"
fi
run "a host outside the allowlist: refused with cordond's words" 7 "${O[@]}" -- curl -sS --noproxy '*' "http://127.0.0.1:1/"
has "refusal: 403 and the rule" 'refused the tunnel (403)'
run "UDP is refused" 0 "${O[@]}" -- "$PY" -c "
import socket
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('127.0.0.1', 53)); print('SENT')
except OSError as e: print('udp refused', e.errno)"
has "UDP: refused" 'udp refused'
if [ -x "$WS/bin/static_probe" ]; then
    run "static grandchild under cordon run" 0 "${O[@]}" -- sh -c "$WS/bin/static_probe $HOME/.ssh/id_rsa"
    has "static grandchild: denied by the kernel" 'static:denied'
fi
sleep 0.3
LOG=$(cat "$T/cordond.log")
OUT=$LOG
has "events: hello with the session" '"type": "hello"'
has "events: the enforcement report" '"kind": "sandbox.report"'
has "events: the fs denial with its path" "\"path\": \"$HOME/.ssh/id_rsa\""
has "events: exec recorded with argv" '"kind": "exec"'
has "events: connects recorded by host name" '"host": "web.test"'
has "events: DNS placeholders recorded" '"kind": "net.dns"'
has "tunnel: cordond saw the name, not an address" "\"target\": \"web.test:$HP\""
if [ -z "$LOG" ]; then bad "static binary: no event log to check"
elif echo "$LOG" | grep '"shim.start"' | grep -qF '"argv": ["'"$WS/bin/static_probe"; then bad "static binary emitted a shim.start"
elif echo "$LOG" | grep '"shim.start"' | grep -q '"sh", "-c", "[^"]*static_probe'; then ok "static binary: its shell parent has events, the static child none (documented)"
else bad "static binary: the parent shell's shim.start is missing" "$LOG"; fi
has "fetch: the shim sent If-None-Match on polls" '"inm": ""'

run "unix:/PATH server: the policy is fetched over a Unix socket" 0 "$CORDON" run --server "unix:$T/api.sock" --key "$T/keys/agent.key" --trust "$T/keys/k.pub" --workspace "$WS" -- curl -sS --noproxy '*' "http://127.0.0.1:$HP/"
has "unix server: the tunnel announced by Cordon-Proxy works" 'hello-origin'
run "wrong agent key: refused with 401" 125 "$CORDON" run --server "http://127.0.0.1:$SP" --key "ck_$(printf 'A%.0s' $(seq 43))" --trust "$T/keys/k.pub" -- true
has "401 explained" 'refused the agent key (401)'

# The poller: publish v21 while the agent runs; one warning, one policy.stale event.
sign online2 21 '{"cordon_policy":1,"agent":"it-online","sandbox":{"enforcement":"best_effort",'"$FS,$EXEC,$NET"'},"poll_seconds":5}'
( sleep 1; cp "$FX/online2.env" "$T/served.env" ) &
run "poller: a newer policy is noticed while running" 0 "${O[@]}" -- sleep 7
has "poller: one warning line" 'policy v21 is published; this process runs v20; restart to apply'
sleep 0.2
OUT=$(cat "$T/cordond.log")
has "poller: policy.stale event" '"kind": "policy.stale"'

# The same from a root started with the profile (the shim's own poller thread).
sign online3 22 '{"cordon_policy":1,"agent":"it-online","sandbox":{"enforcement":"best_effort",'"$FS,$EXEC,$NET"'},"poll_seconds":5}'
( sleep 1; cp "$FX/online3.env" "$T/served.env" ) &
run "shim poller: a root started with the profile notices v22" 0 env CORDON_SERVER="http://127.0.0.1:$SP" CORDON_KEY="$T/keys/agent.key" CORDON_TRUST="$T/keys/k.pub" CORDON_WORKSPACE="$WS" LD_PRELOAD="$SHIM" sleep 7
has "shim poller: one warning line" 'policy v22 is published; this process runs v21; restart to apply'

# ---------------------------------------------------------------- exported symbols
want="open open64 openat openat64 __open_2 __open64_2 __openat_2 __openat64_2 creat creat64
fopen fopen64 freopen freopen64 execve execv execvp execvpe execl execlp execle fexecve execveat
posix_spawn posix_spawnp system popen connect sendto sendmsg sendmmsg getaddrinfo gethostbyname
gethostbyname2 gethostbyname_r gethostbyname2_r getnameinfo syscall close close_range dup2 dup3"
have=$(nm -D --defined-only "$SHIM" | awk '$2 == "T" || $2 == "W" {print $3}' | sort)
missing=""
for s in $want; do echo "$have" | grep -qx "$s" || missing="$missing $s"; done
[ -z "$missing" ] && ok "nm -D: every hooked name is exported" || bad "nm -D: missing:$missing"
extra=$(comm -13 <(echo $want | tr ' ' '\n' | sort) <(echo "$have"))
[ -z "$extra" ] && ok "nm -D: nothing else is exported" || bad "nm -D: unexpected exports" "$extra"

finish
