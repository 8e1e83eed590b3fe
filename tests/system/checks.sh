# shellcheck shell=bash
# checks.sh: the PASS/FAIL bookkeeping every system test shares. Source it;
# it sets passed=0 failed=0 and defines:
#   pass NAME...            count and print a passed check
#   fail NAME: WHY...       count and print a failed check
#   run_checks NAME CMD...  run CMD, count the PASS/FAIL lines it prints (its
#                           own summary dropped); a non-zero exit without a
#                           FAIL line of its own (a traceback) fails NAME
#   finish                  fail once per sanitizer report in WORK's logs (an
#                           ASan/UBSan build's processes write there), print
#                           "N passed, N failed" and exit 1 unless all passed
#                           (and at least one did); a test may define
#                           before_finish to report first
#   stop_pid PID            SIGTERM a process the test started, SIGKILL if it
#                           still runs 5 s later (nothing if PID is empty or gone)
#   exit_on_signal          SIGINT/SIGTERM end the test through its EXIT trap;
#                           a second signal (timeout(1) signals the script and
#                           then its process group) cannot cut that cleanup short
#   end_lab_run DP_PID LAB PREFIX WORK
#                           an EXIT trap's work, each part skipped if empty:
#                           stop_pid DP_PID, lab_down LAB (scripts/lab.sh), the
#                           files of EAL --file-prefix PREFIX, the directory WORK
passed=0
failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
# Sanitizer reports of the processes a test started, whose output went to
# logs in WORK: ASan's "ERROR: ...Sanitizer" and UBSan's "runtime error:".
sanitizer_reports() {
    local dir=${WORK:-} file report='ERROR: [A-Za-z]+Sanitizer|runtime error:'
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    while IFS= read -r file; do
        fail "sanitizer: $(grep -m1 -E "$report" "$file") (in $(basename "$file"))"
        grep -m1 -A25 -E "$report" "$file" | sed 's/^/  | /'
    done < <(grep -rlE "$report" "$dir" --include='*.log' 2>/dev/null)
}
finish() {
    if declare -F before_finish >/dev/null; then before_finish; fi
    sanitizer_reports
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit $?
}
run_checks() {
    local name=$1 line rc='' before=$failed
    shift
    while IFS= read -r line; do
        case $line in
            PASS\ *) echo "$line"; passed=$((passed + 1)) ;;
            FAIL\ *) echo "$line"; failed=$((failed + 1)) ;;
            __rc\ *) rc=${line#__rc } ;;
            *\ passed,\ *\ failed) ;;
            *) echo "  $line" ;;
        esac
    done < <("$@" 2>&1; echo "__rc $?")
    if [ "$rc" != 0 ]; then
        echo "  ($name exited with status $rc)"
        [ "$failed" -gt "$before" ] || fail "$name: exited with status $rc"
    fi
}
exit_on_signal() { trap 'trap "" INT TERM; exit 130' INT TERM; }
stop_pid() {
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true  # reaps it if it is our child
}
# A test's work directory: removed, or kept (and said so) when keep is 1.
remove_work() {
    local dir=$1 keep=$2
    [ -n "$dir" ] || return 0
    if [ "$keep" = 1 ]; then echo "  work directory kept: $dir"; else rm -rf "$dir"; fi
}
end_lab_run() {
    stop_pid "$1"
    [ -n "$2" ] && lab_down "$2"
    # Hugepage-backed EAL memory outlives the processes as files.
    [ -n "$3" ] && rm -rf /dev/hugepages/"$3"map_* /var/run/dpdk/"$3"
    [ -n "$4" ] && rm -rf "$4"
}
