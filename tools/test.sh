#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, from a fresh Debian 12 machine: install what is needed, then build
# and run every test three ways: a normal build, an ASan+UBSan build, and the libFuzzer
# targets (seed replay plus FUZZ_SECONDS of fuzzing each, default 15).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh

failed=()
stage() {
    local name=$1; shift
    echo "=== $name"
    if "$@"; then echo "=== $name: ok"; else echo "=== $name: FAILED"; failed+=("$name"); fi
}
# A stage that runs what a build made: after a failed build, its binaries are an earlier
# build's (or none), so the stage does not run and counts as failed.
built_stage() {
    local build=$1 name=$2; shift 2
    if [[ " ${failed[*]} " == *" build ($build) "* ]]; then
        echo "=== $name: FAILED (not run: build ($build) failed)"
        failed+=("$name")
        return
    fi
    stage "$name" "$@"
}

# skip_cause DIR NAME: the last line a skipped test printed, which names its cause
skip_cause() {
    awk -v t="$2" '/^[0-9]+\/[0-9]+ Testing: / { cur = substr($0, index($0, ": ") + 2) }
        cur == t && /^Output:$/ { getline; on = 1; last = "(it printed nothing)"; next }
        on && /^<end of output>$/ { on = 0; print last }
        on && NF { last = $0 }' "$1/Testing/Temporary/LastTest.log" 2>/dev/null | tail -1
}

# ctest_in DIR [ARGS...]: the tests of one build. A skip passes in ctest's count, so the stage
# ends with the list of skipped tests and the cause each one printed; under CI=true a
# skipped test labelled security fails the stage (ctest there counts no exit code as a skip,
# see cordon_may_skip, but a build configured outside CI would).
ctest_in() {
    local dir=$1 log rc t skipped=() security=()
    # asked first: a listing rewrites the log that skip_cause reads
    mapfile -t security < <(ctest --test-dir "$dir" -N -L '^security$' |
        sed -n 's/^[[:space:]]*Test[[:space:]]*#[0-9]*: //p')
    log=$(mktemp)
    ctest --test-dir "$@" -j"$(nproc)" --output-on-failure --timeout 300 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    mapfile -t skipped < <(sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' "$log")
    rm -f "$log"
    if [ ${#skipped[@]} -eq 0 ]; then
        echo "=== skipped in $dir: none"
        return "$rc"
    fi
    echo "=== skipped in $dir (${#skipped[@]}):"
    for t in "${skipped[@]}"; do
        printf '    %s: %s\n' "$t" "$(skip_cause "$dir" "$t")"
    done
    if [ "${CI:-}" = true ]; then
        for t in "${skipped[@]}"; do
            if printf '%s\n' "${security[@]}" | grep -qxF -- "$t"; then
                echo "=== $t is labelled security and skipped under CI=true: that is a failure"
                rc=1
            fi
        done
    fi
    return "$rc"
}

fuzz_for_a_while() {
    local dir=$1 secs=${FUZZ_SECONDS:-15} t
    for t in tests/fuzz/fuzz_*.c; do
        t=${t##*/fuzz_}; t=${t%.c}
        local work
        work=$(mktemp -d)
        cp tests/fuzz/corpus/$t/* "$work"/
        "$dir/tests/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=65536 -timeout=10 \
            -print_final_stats=1 "$work" 2>&1 | grep -E "^(stat::number_of_executed_units|==|SUMMARY|Done)" || true
        # libFuzzer exits non-zero and leaves a crash-* file when it finds something. (Not
        # `ls ... | grep -q .`: under pipefail the ls of a pattern with no match, leak-* when
        # only a crash-* exists, fails the pipeline and hid every finding.)
        local found
        found=$(compgen -G 'crash-*'; compgen -G 'leak-*'; compgen -G 'timeout-*') || true
        if [ -n "$found" ]; then
            echo "fuzz_$t found a failing input: $found"
            rm -rf "$work"
            return 1
        fi
        rm -rf "$work"
    done
}

stage "format" tools/format.sh --check
stage "build (release)" tools/build.sh release
built_stage release "tests (release)" ctest_in build
stage "build (asan+ubsan)" tools/build.sh asan
built_stage asan+ubsan "tests (asan+ubsan)" ctest_in build-asan
stage "build (fuzz)" tools/build.sh fuzz
built_stage fuzz "fuzz seeds" ctest_in build-fuzz -R '^fuzz\.'
built_stage fuzz "fuzz ${FUZZ_SECONDS:-15}s per target" fuzz_for_a_while build-fuzz

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED stages: ${failed[*]}"
    exit 1
fi
echo "all stages passed"
