#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The macOS interpose table (shim/interpose_macos.c), checked as Mach-O without a Mac: clang
# compiles it for arm64 and x86_64 macOS, and llvm-readobj reads back the __DATA,__interpose
# section. Each 16-byte pair must point at _cordon_hook_<name> then at libSystem's _<name>,
# for exactly the functions listed below (written here, not taken from shim/hooklist.h, so
# that a change to the list has to be made twice to pass). On Linux the same file must
# compile to nothing. What this cannot show is the hooks running under dyld: see
# docs/SHIM.md, "macOS".
#   interpose_macos.sh SOURCE_DIR
SRC=$1
. "$SRC/tests/integration/lib.sh"

want="open openat creat fopen freopen execve execv execvp execl execlp execle posix_spawn
posix_spawnp system popen connect sendto sendmsg getaddrinfo gethostbyname gethostbyname2
getnameinfo syscall close dup2"

readobj=$(command -v llvm-readobj || command -v llvm-readobj-14)
if ! command -v clang >/dev/null || [ -z "$readobj" ]; then
    bad "clang and llvm-readobj are needed (tools/install-deps.sh installs them)"
    finish
fi

for target in arm64-apple-macos12 x86_64-apple-macos12; do
    o=$T/interpose-$target.o
    if ! OUT=$(clang -target "$target" -std=c11 -Wall -Wextra -Werror -I"$SRC" \
        -c "$SRC/shim/interpose_macos.c" -o "$o" 2>&1); then
        bad "$target: interpose_macos.c compiles" "$OUT"
        continue
    fi
    ok "$target: interpose_macos.c compiles"
    "$readobj" --sections --relocations --expand-relocs "$o" > "$T/$target.txt"
    OUT=$(python3 - "$T/$target.txt" $want <<'PY'
import re, sys
text = open(sys.argv[1]).read()
want = sorted(sys.argv[2:])
sec = re.search(r"Name: __interpose \(.*?\n\s+Segment: (\S+) .*?\n\s+Address: \S+\n\s+Size: (0x[0-9A-Fa-f]+)", text)
if not sec:
    sys.exit("no __interpose section")
if sec.group(1) != "__DATA":
    sys.exit("__interpose is in segment %s, not __DATA" % sec.group(1))
size = int(sec.group(2), 16)
if size != 16 * len(want):
    sys.exit("__interpose holds %d bytes; %d pairs of 16 expected" % (size, len(want)))
body = text.split("Section __interpose {", 1)[1].split("\n  }", 1)[0]
slots = {int(o, 16): s for o, s in re.findall(r"Offset: (0x[0-9A-Fa-f]+).*?Symbol: (\S+)", body, re.S)}
if sorted(slots) != list(range(0, size, 8)):
    sys.exit("not every slot of the table is relocated: %s" % sorted(slots))
got = []
for off in range(0, size, 16):
    hook, real = slots[off], slots[off + 8]
    if not real.startswith("_") or hook != "_cordon_hook_" + real[1:]:
        sys.exit("pair at %#x is (%s, %s), not (_cordon_hook_X, _X)" % (off, hook, real))
    got.append(real[1:])
if sorted(got) != want:
    sys.exit("interposed: %s; missing %s; unexpected %s" % (" ".join(got),
             sorted(set(want) - set(got)), sorted(set(got) - set(want))))
print("%d pairs" % len(got))
PY
)
    if [ $? -eq 0 ]; then ok "$target: __DATA,__interpose pairs every hook with its libc name ($OUT)"
    else bad "$target: the interpose table is wrong" "$OUT"; fi
done

# Anywhere else the file is empty: no section, no symbol.
if OUT=$(cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$SRC" -c "$SRC/shim/interpose_macos.c" \
    -o "$T/linux.o" 2>&1); then
    syms=$(nm "$T/linux.o" | wc -l)
    secs=$(objdump -h "$T/linux.o" | grep -c interpose)
    [ "$syms" -eq 0 ] && [ "$secs" -eq 0 ] && ok "Linux: interpose_macos.c compiles to nothing" ||
        bad "Linux: interpose_macos.c left $syms symbols and $secs interpose sections"
else
    bad "Linux: interpose_macos.c compiles" "$OUT"
fi
finish
