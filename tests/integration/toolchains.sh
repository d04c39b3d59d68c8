#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The interpreters people use: python3 is a pyenv shim under a temporary HOME, found first on
# PATH. Without sandbox.presets "home-toolchains" the kernel refuses it, and cordon exec and
# cordon run say so before the start, naming the program and the preset that allows it. With
# the preset it runs, and the kernel still refuses every write under the toolchain directory
# (cordon exec applies the kernel sandbox alone: no hook is in the way), while the same write
# outside the sandbox succeeds.
#   toolchains.sh CORDON SOURCE_DIR
CORDON=$(realpath "$1")
SRC=$2
. "$SRC/tests/integration/lib.sh"
unset CORDON_SERVER CORDON_KEY CORDON_TRUST CORDON_POLICY CORDON_PROFILE XDG_STATE_HOME
unset XDG_RUNTIME_DIR

if ! "$CORDON" doctor 2>/dev/null | grep -q '^landlock *available'; then
    [ "${CI:-}" = true ] && { echo "FAIL this kernel has no Landlock, and CI=true forbids a skip"; exit 1; }
    echo "SKIP: this kernel has no Landlock (cordon doctor); the sandbox cannot be tested here"
    exit 77
fi

# HOME outside every grant of the policies below (lib.sh's is under /tmp, which is ${tmp})
V=$(mktemp -d /var/tmp/cordon-it-XXXXXX)
trap 'rm -rf "$T" "$V" "$FX"' EXIT
export HOME=$V/home
mkdir -p "$HOME"

# the fake pyenv: a shim on PATH that runs a version's interpreter, as pyenv's does
PY=$HOME/.pyenv
mkdir -p "$PY/shims" "$PY/versions/3.12/bin" "$T/ws"
cat > "$PY/shims/python3" <<'S'
#!/bin/sh
exec "$HOME/.pyenv/versions/3.12/bin/python3" "$@"
S
cat > "$PY/versions/3.12/bin/python3" <<'S'
#!/bin/sh
echo "PYENV-3.12" >&2
exec /usr/bin/python3 "$@"
S
cat > "$PY/shims/pyenv-only" <<'S'
#!/bin/sh
echo "PYENV-ONLY-RAN"
S
chmod 755 "$PY/shims/python3" "$PY/versions/3.12/bin/python3" "$PY/shims/pyenv-only"
cp "$PY/shims/python3" "$FX/shim.orig"
export PATH="$PY/shims:/usr/bin:/bin"
cd "$T/ws"

cat > "$FX/plain.json" <<'J'
{"cordon_policy":1,"agent":"it-toolchains","sandbox":{"network":{"mode":"none"}}}
J
cat > "$FX/preset.json" <<'J'
{"cordon_policy":1,"agent":"it-toolchains","sandbox":{"presets":["home-toolchains"],
 "network":{"mode":"none"}}}
J

# without the preset: refused by the kernel, warned before the start. execvp goes on down
# PATH after the refusal, so python3 quietly becomes /usr/bin/python3: the warning says so.
run "without the preset: a program only the toolchain has cannot be executed" 126 \
    "$CORDON" exec --policy "$FX/plain.json" -- pyenv-only
has "cordon exec warns, naming the program" \
    "cordon exec: warning: pyenv-only is $PY/shims/pyenv-only, which this policy will not let run"
has "the warning says why" "no exec rule reaches it"
has "the warning names the policy line that allows it" \
    'to allow it, add "home-toolchains" to sandbox.presets'
case "$OUT" in *PYENV-ONLY-RAN*) bad "the refused program did not run" "$OUT" ;;
    *) ok "the refused program did not run" ;; esac
n=$(printf '%s\n' "$OUT" | grep -c 'warning:')
[ "$n" -eq 1 ] && ok "one warning" || bad "one warning" "got $n" "$OUT"
run "without the preset python3 falls back to the system's" 0 \
    "$CORDON" exec --policy "$FX/plain.json" -- python3 -c 'print("RAN")'
has "the warning names the pyenv python3" \
    "cordon exec: warning: python3 is $PY/shims/python3, which this policy will not let run"
has "the warning says which program runs in its place" \
    "/usr/bin/python3, next on PATH, runs in its place"
case "$OUT" in *PYENV-3.12*) bad "the pyenv version did not run" "$OUT" ;;
    *) ok "the pyenv version did not run" ;; esac

# control: the system's python3 runs under the same policy, with no warning
run "control: /usr/bin/python3 runs under the same policy" 0 \
    "$CORDON" exec --policy "$FX/plain.json" -- /usr/bin/python3 -c 'print("RAN")'
has "control: it ran" "RAN"
case "$OUT" in *warning:*) bad "control: no warning" "$OUT" ;; *) ok "control: no warning" ;; esac

# with the preset: the shim and the version it runs are executed
run "with the preset the pyenv python3 runs" 0 \
    "$CORDON" exec --policy "$FX/preset.json" -- python3 -c 'print("RAN")'
has "the pyenv version ran" "PYENV-3.12"
has "the program ran" "RAN"
case "$OUT" in *warning:*) bad "with the preset: no warning" "$OUT" ;;
    *) ok "with the preset: no warning" ;; esac

# ... and nothing under it can be written: the kernel refuses
WRITE='import os, sys
p = os.path.join(os.environ["HOME"], ".pyenv", sys.argv[1])
try:
    with open(p, "w") as f:
        f.write("#!/bin/sh\necho PLANTED\n")
    print("WROTE " + p)
except OSError as e:
    print("REFUSED %s errno=%d" % (p, e.errno))
    sys.exit(3)'
run "the agent cannot overwrite the pyenv shim" 3 \
    "$CORDON" exec --policy "$FX/preset.json" -- python3 -c "$WRITE" shims/python3
has "the kernel refused the write with EACCES" "errno=13"
cmp -s "$PY/shims/python3" "$FX/shim.orig" && ok "the shim is unchanged" \
    || bad "the shim is unchanged" "$(cat "$PY/shims/python3")"
run "the agent cannot plant a program under the toolchain" 3 \
    "$CORDON" exec --policy "$FX/preset.json" -- python3 -c "$WRITE" shims/planted
[ ! -e "$PY/shims/planted" ] && ok "nothing was planted" || bad "nothing was planted"
run "a raw syscall write is refused as well" 1 \
    "$CORDON" exec --policy "$FX/preset.json" -- /usr/bin/python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.syscall(257, -100, (os.environ["HOME"] + "/.pyenv/versions/raw").encode(), 0o1101, 0o755)
sys.exit(1 if fd < 0 and ctypes.get_errno() == 13 else 0)'
[ ! -e "$PY/versions/raw" ] && ok "the raw openat created nothing" || bad "the raw openat created nothing"
# control: the same write outside the sandbox succeeds
run "control: outside the sandbox the same write succeeds" 0 /usr/bin/python3 -c "$WRITE" shims/ctl
has "control: it wrote" "WROTE $PY/shims/ctl"
rm -f "$PY/shims/ctl"

# cordon run says the same before it starts CMD (the embedded default: a private cordond)
run "cordon run: without the preset the toolchain's program cannot be executed" 126 \
    "$CORDON" run --policy "$FX/plain.json" --audit "$V/a1" -- pyenv-only
has "cordon run warns, naming the program and the preset" \
    "cordon run: warning: pyenv-only is $PY/shims/pyenv-only, which this policy will not let run"
has "cordon run: the policy line" 'add "home-toolchains" to sandbox.presets'
run "cordon run: with the preset it runs" 0 \
    "$CORDON" run --policy "$FX/preset.json" --audit "$V/a2" -- python3 -c 'print("RAN")'
has "cordon run: the program ran" "RAN"
has "cordon run: the pyenv version ran" "PYENV-3.12"
case "$OUT" in *warning:\ python3*) bad "cordon run: no warning with the preset" "$OUT" ;;
    *) ok "cordon run: no warning with the preset" ;; esac
finish
