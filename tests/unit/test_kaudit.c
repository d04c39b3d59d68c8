/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel's audit records (policy/server/kaudit.h): the parser on real records, malformed,
 * oversized and hostile ones; the mapper's grouping by serial, domain to session, pid
 * ancestry, loss counting and the bounds of what it holds.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/server/kaudit.h"

/* ---------------------------------------------------------------- parser */

static struct kaudit_rec r;

static int parse(int type, const char *text)
{
    return kaudit_parse(type, text, strlen(text), &r);
}

Test(kaudit_parse, landlock_access)
{
    cr_assert_eq(parse(1423, "audit(1733213447.123:4567): domain=1f63d7523 "
                             "blockers=fs.read_file path=\"/tmp/x/secret.txt\" dev=\"vda\" "
                             "ino=11035760"),
                 0);
    cr_assert_eq(r.serial, 4567);
    cr_assert_eq(r.stamp_ms, 1733213447123LL);
    cr_assert_eq(r.domain, 0x1f63d7523ULL);
    cr_assert_str_eq(r.blockers, "fs.read_file");
    cr_assert_str_eq(r.path, "/tmp/x/secret.txt");
    cr_assert_eq(r.pid, -1);
}

Test(kaudit_parse, syscall_record)
{
    cr_assert_eq(parse(1300, "audit(1.5:9): arch=c000003e syscall=257 success=no exit=-13 "
                             "a0=ffffff9c items=0 ppid=10 pid=11 auid=4294967295 uid=0 "
                             "comm=\"cat\" exe=\"/usr/bin/cat\" subj=unconfined key=(null)"),
                 0);
    cr_assert_eq(r.syscall, 257);
    cr_assert_eq(r.exit_code, -13);
    cr_assert_eq(r.pid, 11);
    cr_assert_eq(r.ppid, 10);
    cr_assert_str_eq(r.exe, "/usr/bin/cat");
}

Test(kaudit_parse, domain_records_and_seccomp)
{
    cr_assert_eq(parse(1424, "audit(2.000:3): domain=ab status=allocated mode=enforcing pid=77 "
                             "uid=0 exe=\"/usr/bin/cordon\" comm=\"cordon\""),
                 0);
    cr_assert_str_eq(r.status, "allocated");
    cr_assert_eq(r.pid, 77);
    cr_assert_eq(r.domain, 0xab);
    cr_assert_eq(parse(1424, "audit(2.000:4): domain=ab status=deallocated denials=12"), 0);
    cr_assert_str_eq(r.status, "deallocated");
    cr_assert_eq(r.denials, 12);
    cr_assert_eq(parse(1326, "audit(3.001:5): auid=4294967295 uid=0 gid=0 ses=4294967295 "
                             "subj=unconfined pid=900 comm=\"p\" exe=\"/x/p\" sig=0 "
                             "arch=c000003e syscall=41 compat=0 ip=0x41 code=0x50000"),
                 0);
    cr_assert_eq(r.code, 0x50000);
    cr_assert_eq(r.syscall, 41);
    cr_assert_str_eq(r.exe, "/x/p");
}

/* A network refusal names its address and port, a scoped one the process it aimed at. */
Test(kaudit_parse, network_and_scope_targets)
{
    cr_assert_eq(parse(1423, "audit(1.0:1): domain=1 blockers=net.connect_tcp daddr=127.0.0.1 "
                             "dest=22"),
                 0);
    cr_assert_str_eq(r.blockers, "net.connect_tcp");
    cr_assert_str_eq(r.addr, "127.0.0.1");
    cr_assert_eq(r.port, 22);
    cr_assert_eq(parse(1423, "audit(1.0:2): domain=1 blockers=net.bind_tcp saddr=0.0.0.0 src=8080"),
                 0);
    cr_assert_str_eq(r.addr, "0.0.0.0");
    cr_assert_eq(r.port, 8080);
    cr_assert_eq(parse(1423, "audit(1.0:3): domain=1 blockers=scope.signal opid=4242 "
                             "ocomm=\"sshd\""),
                 0);
    cr_assert_eq(r.opid, 4242);
    /* a value that does not parse is left out, the record still read */
    cr_assert_eq(parse(1423, "audit(1.0:4): domain=1 blockers=net.connect_tcp dest=x"), 0);
    cr_assert_eq(r.port, 0);
}

Test(kaudit_parse, hex_encoded_strings)
{
    /* the kernel hex-encodes a path with a space or a quote: "/tmp/a b" */
    cr_assert_eq(parse(1423, "audit(1.0:1): domain=1 blockers=fs.read_file path=2F746D702F612062"),
                 0);
    cr_assert_str_eq(r.path, "/tmp/a b");
    /* a decoded control character never reaches the log as such */
    cr_assert_eq(parse(1423, "audit(1.0:1): domain=1 blockers=x path=2F0A78"), 0);
    cr_assert_str_eq(r.path, "/?x");
    cr_assert_eq(parse(1300, "audit(1.0:1): pid=1 exe=(null)"), 0);
    cr_assert_str_eq(r.exe, "");
}

Test(kaudit_parse, malformed)
{
    cr_assert_eq(parse(1423, ""), -EINVAL);
    cr_assert_eq(parse(1423, "audit("), -EINVAL);
    cr_assert_eq(parse(1423, "audit(1:2): domain=1"), -EINVAL);      /* no millis */
    cr_assert_eq(parse(1423, "audit(1.2222:2): domain=1"), -EINVAL); /* millis > 999 */
    cr_assert_eq(parse(1423, "audit(1.2:x): domain=1"), -EINVAL);
    cr_assert_eq(parse(1423, "audit(1.2:3 domain=1"), -EINVAL);
    cr_assert_eq(parse(1423, "audit(99999999999999999999.1:3): domain=1"), -EINVAL);
    cr_assert_eq(parse(1423, "audit(1.2:3): domain=zz"), -EINVAL);
    cr_assert_eq(parse(1423, "audit(1.2:3): domain=11112222333344445"), -EINVAL); /* > 64 bits */
    cr_assert_eq(parse(1300, "audit(1.2:3): pid=12a"), -EINVAL);
    cr_assert_eq(parse(1300, "audit(1.2:3): pid=\"12\""), -EINVAL);
    cr_assert_eq(parse(1300, "audit(1.2:3): pid=-"), -EINVAL);
    cr_assert_eq(parse(1300, "audit(1.2:3): pid=9999999999999999999"), -EINVAL); /* > int64 */
    cr_assert_eq(parse(1300, "audit(1.2:3): pid=9223372036854775807"), 0);
    cr_assert_eq(parse(1423, "audit(1.2:3): domain=1 path=\"/never/closed"), -EINVAL);
}

Test(kaudit_parse, oversized_and_cut)
{
    size_t n = KAUDIT_TEXT_MAX + 1;
    char *big = malloc(n);
    memset(big, 'a', n);
    cr_assert_eq(kaudit_parse(1423, big, n, &r), -E2BIG);
    /* a path longer than kept is cut with "..." */
    char text[KAUDIT_TEXT_MAX];
    int w = snprintf(text, sizeof text, "audit(1.0:1): domain=1 path=\"/");
    memset(text + w, 'p', 3000);
    memcpy(text + w + 3000, "\"", 2);
    cr_assert_eq(parse(1423, text), 0);
    cr_assert_eq(strlen(r.path), KAUDIT_PATH_MAX - 1);
    cr_assert_str_eq(r.path + KAUDIT_PATH_MAX - 4, "...");
    free(big);
}

Test(kaudit_parse, hostile_bytes)
{
    /* not NUL-terminated, NULs inside, stray quotes and '=' */
    const char t[] = {'a', 'u', 'd', 'i', 't', '(', '1', '.', '0', ':', '1', ')',  ':', ' ',
                      'p', 'i', 'd', '=', '5', ' ', '=', '=', ' ', 'x', '=', '\0', 'y'};
    cr_assert_eq(kaudit_parse(1300, t, sizeof t, &r), 0);
    cr_assert_eq(r.pid, 5);
    cr_assert_eq(parse(1300, "audit(1.0:1): msg='op=x pid=3 exe=\"/a\"'"), 0);
    cr_assert_eq(r.pid, 3);
    cr_assert_str_eq(r.exe, "/a");
}

Test(kaudit_parse, arch)
{
    cr_assert_eq(parse(1326, "audit(1.0:1): arch=c000003e syscall=41 code=0x50000"), 0);
    cr_assert_eq(r.arch, 0xc000003e);
    cr_assert_eq(parse(1326, "audit(1.0:1): arch=\"c000003e\""), -EINVAL);
}

/* ---------------------------------------------------------------- mapper */

struct out {
    char kind[32], agent[64];
    char fields[4096];
};
static struct out outs[64];
static size_t n_out;
static pid_t parents[100000];

static size_t n_loss;         /* kernel.loss records, counted past what outs holds */
static char first_loss[4096]; /* the first one's fields */

static int fail_writes; /* the sink refuses records, as a failed audit writer does */

static int sink_emit(void *ud, const char *kind, const char *agent, const char *fields)
{
    (void)ud;
    if (fail_writes)
        return -1;
    if (strcmp(kind, "kernel.loss") == 0 && n_loss++ == 0)
        snprintf(first_loss, sizeof first_loss, "%s", fields);
    if (n_out == sizeof outs / sizeof outs[0])
        return 0;
    snprintf(outs[n_out].kind, sizeof outs[n_out].kind, "%s", kind);
    snprintf(outs[n_out].agent, sizeof outs[n_out].agent, "%s", agent);
    snprintf(outs[n_out].fields, sizeof outs[n_out].fields, "%s", fields);
    n_out++;
    return 0;
}

static pid_t sink_parent(void *ud, pid_t pid)
{
    (void)ud;
    return pid > 0 && pid < 100000 && parents[pid] ? parents[pid] : -1;
}

static struct kaudit *k;

static void msetup(void)
{
    n_out = 0;
    n_loss = 0;
    fail_writes = 0;
    first_loss[0] = '\0';
    memset(parents, 0, sizeof parents);
    const struct kaudit_sink s = {.emit = sink_emit, .parent = sink_parent};
    cr_assert_eq(kaudit_new(&s, &k), 0);
}

static void mteardown(void)
{
    kaudit_free(k);
}

static void feed(int type, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void feed(int type, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    cr_assert_eq(kaudit_feed(k, type, text, strlen(text), 1000), 0, "%s", text);
}

/* One Landlock denial by pid (child of ppid) in domain dom, with serial ser; first also
 * carries the allocated record naming creator. */
static void denial(unsigned ser, const char *dom, int pid, int ppid, const char *path, int creator)
{
    feed(1423, "audit(1.0:%u): domain=%s blockers=fs.read_file path=\"%s\"", ser, dom, path);
    if (creator)
        feed(1424,
             "audit(1.0:%u): domain=%s status=allocated mode=enforcing pid=%d uid=0 "
             "exe=\"/c\"",
             ser, dom, creator);
    feed(1300,
         "audit(1.0:%u): arch=c000003e syscall=257 success=no exit=-13 ppid=%d pid=%d "
         "exe=\"/probe\"",
         ser, ppid, pid);
    feed(1320, "audit(1.0:%u): ", ser);
}

Test(kaudit_map, root_first_then_denials, .init = msetup, .fini = mteardown)
{
    kaudit_root(k, 100, "alice", "s1");
    denial(1, "ab", 100, 1, "/mark", 100);
    denial(2, "ab", 101, 100, "/home/u/.ssh/id_rsa", 0);
    cr_assert_eq(n_out, 2);
    cr_assert_str_eq(outs[1].kind, "kernel.deny");
    cr_assert_str_eq(outs[1].agent, "alice");
    cr_assert(strstr(outs[1].fields, "\"session\":\"s1\""));
    cr_assert(strstr(outs[1].fields, "\"pid\":101"));
    cr_assert(strstr(outs[1].fields, "\"exe\":\"/probe\""));
    cr_assert(strstr(outs[1].fields, "\"path\":\"/home/u/.ssh/id_rsa\""));
    cr_assert(strstr(outs[1].fields, "\"blockers\":\"fs.read_file\""));
    cr_assert(strstr(outs[1].fields, "\"syscall\":257"));
    /* the domain ends: 3 denials counted by the kernel, 2 received */
    feed(1424, "audit(1.0:9): domain=ab status=deallocated denials=3");
    kaudit_tick(k, 1000 + KAUDIT_EVENT_MS);
    cr_assert_eq(n_out, 3);
    cr_assert_str_eq(outs[2].kind, "kernel.loss");
    cr_assert(strstr(outs[2].fields, "\"denials\":3,\"received\":2,\"lost\":1"), "%s",
              outs[2].fields);
    struct kaudit_stats st;
    kaudit_stats_get(k, &st);
    cr_assert_eq(st.lost, 1);
    cr_assert_eq(st.denials, 2);
    cr_assert_eq(kaudit_live_domains(k), 0);
}

/* cordond stops before a session's domain ends: the loss is written as not known, never as
 * none. */
Test(kaudit_map, a_domain_whose_end_never_came_has_an_unknown_loss, .init = msetup,
     .fini = mteardown)
{
    kaudit_root(k, 100, "alice", "s1");
    denial(1, "ab", 100, 1, "/mark", 100);
    denial(2, "ab", 101, 100, "/home/u/.ssh/id_rsa", 0);
    cr_assert_eq(kaudit_live_domains(k), 1);
    kaudit_flush(k);
    cr_assert_eq(n_out, 3);
    cr_assert_str_eq(outs[2].kind, "kernel.loss");
    cr_assert(strstr(outs[2].fields, "\"denials\":null,\"received\":2,\"lost\":null"), "%s",
              outs[2].fields);
    cr_assert(strstr(outs[2].fields, "had not ended when cordond stopped"), "%s", outs[2].fields);
    cr_assert_eq(kaudit_live_domains(k), 0);
    kaudit_overrun(k, 1);
    kaudit_root(k, 200, "bob", "s2");
    denial(3, "cd", 200, 1, "/mark", 200);
    kaudit_flush(k);
    cr_assert_eq(n_out, 5);
    cr_assert(strstr(outs[4].fields, "socket overflowed"), "%s", outs[4].fields);
    struct kaudit_stats st;
    kaudit_stats_get(k, &st);
    cr_assert_eq(st.lost, 0);
}

Test(kaudit_map, denials_before_the_report_are_held, .init = msetup, .fini = mteardown)
{
    /* the deliberate denial comes before the root's sandbox report */
    denial(1, "cd", 200, 1, "/mark", 200);
    denial(2, "cd", 201, 200, "/secret", 0);
    cr_assert_eq(n_out, 0);
    kaudit_root(k, 200, "bob", "s2");
    cr_assert_eq(n_out, 2);
    cr_assert_str_eq(outs[0].agent, "bob");
    cr_assert(strstr(outs[0].fields, "\"path\":\"/mark\""));
    cr_assert(strstr(outs[1].fields, "\"path\":\"/secret\""));
}

Test(kaudit_map, unknown_domain_expires_unattributed, .init = msetup, .fini = mteardown)
{
    denial(1, "ef", 300, 1, "/x", 300);
    kaudit_tick(k, 1000 + KAUDIT_PEND_MS + 1);
    cr_assert_eq(n_out, 0);
    struct kaudit_stats st;
    kaudit_stats_get(k, &st);
    cr_assert_eq(st.unattributed, 1);
}

Test(kaudit_map, nested_domain_by_ancestry, .init = msetup, .fini = mteardown)
{
    kaudit_root(k, 400, "carol", "s3");
    parents[450] = 400; /* a process of the tree restricted itself again */
    denial(1, "99", 450, 400, "/inner", 450);
    cr_assert_eq(n_out, 1);
    cr_assert_str_eq(outs[0].agent, "carol");
}

/* A kernel.deny the audit log did not take is not received: the domain's end shows it lost. */
Test(kaudit_map, a_record_the_log_refused_counts_as_lost, .init = msetup, .fini = mteardown)
{
    kaudit_root(k, 100, "alice", "s1");
    denial(1, "ab", 100, 1, "/mark", 100);
    fail_writes = 1;
    denial(2, "ab", 101, 100, "/home/u/.ssh/id_rsa", 0);
    fail_writes = 0;
    feed(1424, "audit(1.0:9): domain=ab status=deallocated denials=2");
    kaudit_tick(k, 1000 + KAUDIT_EVENT_MS);
    cr_assert_eq(n_out, 2);
    cr_assert_str_eq(outs[1].kind, "kernel.loss");
    cr_assert(strstr(outs[1].fields, "\"denials\":2,\"received\":1,\"lost\":1"), "%s",
              outs[1].fields);
    struct kaudit_stats st;
    kaudit_stats_get(k, &st);
    cr_assert_eq(st.unwritten, 1);
    cr_assert_eq(st.lost, 1);
}

/* More domains at once than the table holds: the oldest session domain is let go, and its loss
 * is written as not known, never dropped in silence. */
Test(kaudit_map, an_evicted_domain_writes_its_unknown_loss, .init = msetup, .fini = mteardown)
{
    kaudit_root(k, 400, "carol", "s3");
    denial(1, "99", 400, 1, "/mark", 400);
    cr_assert_eq(n_out, 1);
    for (int i = 0; i < 1100; i++) {
        char dom[16];
        snprintf(dom, sizeof dom, "%x", 0x1000 + i);
        parents[1000 + i] = 400; /* a process of the tree that restricted itself again */
        denial((unsigned)(10 + i), dom, 1000 + i, 400, "/inner", 1000 + i);
    }
    cr_assert_gt(n_loss, 0, "no kernel.loss among %zu records", n_out);
    cr_assert(strstr(first_loss, "\"domain\":\"99\""), "the first let go is the oldest: %s",
              first_loss);
    cr_assert(strstr(first_loss, "\"session\":\"s3\""), "%s", first_loss);
    cr_assert(strstr(first_loss, "\"lost\":null"), "%s", first_loss);
    cr_assert(strstr(first_loss, "stopped tracking this one"), "%s", first_loss);
}

Test(kaudit_map, seccomp_by_ancestry_and_canary, .init = msetup, .fini = mteardown)
{
    kaudit_root(k, 500, "dave", "s4");
    parents[502] = 501;
    parents[501] = 500;
    feed(1326, "audit(1.0:7): pid=502 comm=\"p\" exe=\"/p\" sig=0 arch=c000003e syscall=41 "
               "compat=0 ip=0x1 code=0x50000");
    cr_assert_eq(n_out, 1);
    cr_assert(strstr(outs[0].fields, "\"mechanism\":\"seccomp\""));
    cr_assert(strstr(outs[0].fields, "\"pid\":502"));
    cr_assert(strstr(outs[0].fields, "\"code\":\"0x50000\""));
    /* the shim's canary prctl is not the agent's refusal (x86_64 numbers) */
#if defined(__x86_64__)
    feed(1326, "audit(1.0:8): pid=502 exe=\"/p\" arch=c000003e syscall=157 code=0x50000");
    feed(1326, "audit(1.0:10): pid=502 exe=\"/p\" arch=40000003 syscall=172 code=0x50000");
#endif
    /* a process of no session: not written, counted */
    feed(1326, "audit(1.0:9): pid=9999 exe=\"/q\" syscall=41 code=0x50000");
    cr_assert_eq(n_out, 1);
    struct kaudit_stats st;
    kaudit_stats_get(k, &st);
    cr_assert_eq(st.unattributed, 1);
}

Test(kaudit_map, seccomp_of_an_exited_process_seen_on_the_channel, .init = msetup,
     .fini = mteardown)
{
    kaudit_pid_seen(k, 600, "erin", "s5"); /* gone from /proc: parents[600] unknown */
    feed(1326, "audit(1.0:7): pid=600 exe=\"/p\" syscall=41 code=0x50000");
    cr_assert_eq(n_out, 1);
    cr_assert_str_eq(outs[0].agent, "erin");
}

Test(kaudit_map, hostile_streams_stay_bounded, .init = msetup, .fini = mteardown)
{
    /* thousands of open events, never ended, each with more records than kept */
    for (unsigned s = 1; s < 3000; s++)
        for (int i = 0; i < 12; i++)
            feed(1423, "audit(1.0:%u): domain=%x blockers=fs.read_file path=\"/p\"", s, s);
    const char *cut = "audit(1.0:1): domain=1 path=\"/open";
    cr_assert_eq(kaudit_feed(k, 1423, cut, strlen(cut), 1000), -EINVAL);
    kaudit_flush(k);
    struct kaudit_stats st;
    kaudit_stats_get(k, &st);
    cr_assert_eq(st.malformed, 1);
    cr_assert_eq(n_out, 0);
    cr_assert_gt(st.unattributed, 0);
}

Test(kaudit_map, hook_event_and_kernel_refusal_name_each_other, .init = msetup, .fini = mteardown)
{
    kaudit_root(k, 700, "fay", "s6");
    denial(1, "77", 700, 1, "/mark", 700);
    /* the hook let the exec through and the kernel refused it: hook first */
    cr_assert_eq(kaudit_hook_event(k, 701, "s6", "exec", "allow", "/bin/x", 1234.0), 0);
    denial(2, "77", 701, 700, "/bin/x", 0);
    cr_assert_eq(n_out, 2);
    cr_assert(strstr(outs[1].fields,
                     "\"hook\":{\"kind\":\"exec\",\"decision\":\"allow\",\"event_ts\":1234}"),
              "%s", outs[1].fields);
    /* the kernel's record first: the hook event gets its serial */
    denial(3, "77", 702, 700, "/etc/y", 0);
    cr_assert_eq(kaudit_hook_event(k, 702, "s6", "fs.open", "log", "/etc/y", 1.0), 3);
    /* another pid, another session, another path: no link */
    cr_assert_eq(kaudit_hook_event(k, 703, "s6", "fs.open", "log", "/etc/y", 1.0), 0);
    cr_assert_eq(kaudit_hook_event(k, 702, "s7", "fs.open", "log", "/etc/y", 1.0), 0);
    cr_assert_eq(kaudit_hook_event(k, 702, "s6", "fs.open", "log", "/etc/z", 1.0), 0);
    cr_assert_eq(kaudit_hook_event(NULL, 702, "s6", "fs.open", "log", "/etc/y", 1.0), 0);
    /* too late: outside KAUDIT_LINK_MS */
    kaudit_tick(k, 1000 + KAUDIT_LINK_MS + 1);
    cr_assert_eq(kaudit_hook_event(k, 702, "s6", "fs.open", "log", "/etc/y", 1.0), 0);
}
