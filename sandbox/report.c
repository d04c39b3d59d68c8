/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enforcement report as JSON: what the kernel enforces after sandbox_apply(), for
 * `cordon exec --report`, for `cordon doctor` and for the audit log via the shim.
 */
#include "sandbox/report.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sandbox/landlock_abi.h"

static const struct {
    uint64_t bit;
    const char *name;
} fs_names[] = {
    {LANDLOCK_ACCESS_FS_EXECUTE, "execute"},       {LANDLOCK_ACCESS_FS_WRITE_FILE, "write_file"},
    {LANDLOCK_ACCESS_FS_READ_FILE, "read_file"},   {LANDLOCK_ACCESS_FS_READ_DIR, "read_dir"},
    {LANDLOCK_ACCESS_FS_REMOVE_DIR, "remove_dir"}, {LANDLOCK_ACCESS_FS_REMOVE_FILE, "remove_file"},
    {LANDLOCK_ACCESS_FS_MAKE_CHAR, "make_char"},   {LANDLOCK_ACCESS_FS_MAKE_DIR, "make_dir"},
    {LANDLOCK_ACCESS_FS_MAKE_REG, "make_reg"},     {LANDLOCK_ACCESS_FS_MAKE_SOCK, "make_sock"},
    {LANDLOCK_ACCESS_FS_MAKE_FIFO, "make_fifo"},   {LANDLOCK_ACCESS_FS_MAKE_BLOCK, "make_block"},
    {LANDLOCK_ACCESS_FS_MAKE_SYM, "make_sym"},     {LANDLOCK_ACCESS_FS_REFER, "refer"},
    {LANDLOCK_ACCESS_FS_TRUNCATE, "truncate"},     {LANDLOCK_ACCESS_FS_IOCTL_DEV, "ioctl_dev"},
};

static cJSON *names(uint64_t bits, int fs)
{
    cJSON *a = cJSON_CreateArray();
    if (fs) {
        for (size_t i = 0; i < sizeof fs_names / sizeof fs_names[0]; i++)
            if (bits & fs_names[i].bit)
                cJSON_AddItemToArray(a, cJSON_CreateString(fs_names[i].name));
    } else {
        if (bits & LANDLOCK_ACCESS_NET_BIND_TCP)
            cJSON_AddItemToArray(a, cJSON_CreateString("bind_tcp"));
        if (bits & LANDLOCK_ACCESS_NET_CONNECT_TCP)
            cJSON_AddItemToArray(a, cJSON_CreateString("connect_tcp"));
    }
    return a;
}

static cJSON *notes(const char (*v)[SANDBOX_NOTE_MAX], size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

static const char *const limit_names[SANDBOX_N_LIMITS] = {"processes", "memory", "cpu_seconds",
                                                          "open_files"};
static const char *const via_names[] = {"unset", "cgroup v2", "cgroup v1", "rlimit", "nothing"};

const char *sandbox_limit_name(enum sandbox_limit l)
{
    return limit_names[l];
}

const char *sandbox_via_name(enum sandbox_via v)
{
    return via_names[v];
}

const char *sandbox_strerror(int status)
{
    switch (status) {
    case SANDBOX_OK:
        return "ok";
    case SANDBOX_ERR_UNSUPPORTED:
        return "the kernel lacks a feature the strict policy requires";
    case SANDBOX_ERR_THREADS:
        return "the process has more than one thread";
    case SANDBOX_ERR_SYSCALL:
        return "a Landlock, seccomp or prctl call failed";
    case SANDBOX_ERR_NOMEM:
        return "out of memory";
    default:
        return err_is_errno(status) ? strerror(-status) : "unknown sandbox error";
    }
}

/* What one limit bounds, as the report says it. */
static const char *scope_of(enum sandbox_limit l, enum sandbox_via v)
{
    switch (v) {
    case SANDBOX_VIA_CGROUP_V1:
    case SANDBOX_VIA_CGROUP_V2:
        return l == SANDBOX_LIMIT_PROCESSES ? "the sandbox's processes and threads together"
                                            : "the sandbox's processes together (swap included)";
    case SANDBOX_VIA_RLIMIT:
        return l == SANDBOX_LIMIT_PROCESSES     ? "every process of the real user id, on the whole "
                                                  "host"
               : l == SANDBOX_LIMIT_MEMORY      ? "each process's address space"
               : l == SANDBOX_LIMIT_CPU_SECONDS ? "each process's CPU time (SIGKILL at the "
                                                  "limit)"
                                                : "each process";
    case SANDBOX_VIA_NOTHING:
        return "not enforced (see degradations)";
    case SANDBOX_VIA_UNSET:
        break;
    }
    return "";
}

struct cJSON *sandbox_report_object(const struct sandbox_report *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "enforcement", policy_enforcement_name(r->enforcement));
    cJSON *ll = cJSON_AddObjectToObject(o, "landlock");
    cJSON_AddNumberToObject(ll, "abi", r->landlock_abi);
    cJSON_AddBoolToObject(ll, "applied", r->landlock_applied);
    cJSON_AddItemToObject(ll, "fs_handled", names(r->fs_handled, 1));
    cJSON_AddItemToObject(ll, "net_handled", names(r->net_handled, 0));
    cJSON *sc = cJSON_AddArrayToObject(ll, "scoped");
    if (r->scoped & LANDLOCK_SCOPE_SIGNAL)
        cJSON_AddItemToArray(sc, cJSON_CreateString("signal"));
    if (r->scoped & LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET)
        cJSON_AddItemToArray(sc, cJSON_CreateString("abstract_unix_socket"));
    cJSON_AddNumberToObject(ll, "fs_rules", r->fs_rules);
    cJSON_AddNumberToObject(ll, "exec_rules", r->exec_rules);
    cJSON_AddNumberToObject(ll, "net_rules", r->net_rules);
    cJSON_AddNumberToObject(ll, "expanded_dirs", r->expanded_dirs);
    /* what the kernel's audit log gets (kernel_audit, docs/SERVER.md "Kernel refusals") */
    cJSON_AddBoolToObject(ll, "audit_new_exec",
                          (r->landlock_log_flags & LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON) != 0);
    cJSON_AddBoolToObject(ll, "audit_domain_named", r->landlock_marked);
    cJSON *se = cJSON_AddObjectToObject(o, "seccomp");
    cJSON_AddBoolToObject(se, "available", r->seccomp_available);
    cJSON_AddBoolToObject(se, "installed", r->seccomp_installed);
    cJSON_AddNumberToObject(se, "rules", r->seccomp_rules);
    cJSON_AddBoolToObject(se, "audit_logged", r->seccomp_logged);
    cJSON *ipc = cJSON_AddObjectToObject(o, "ipc");
    cJSON_AddStringToObject(ipc, "sysv", policy_sysv_name(r->sysv));
    cJSON_AddBoolToObject(ipc, "ipc_namespace", r->ipc_namespace);
    cJSON_AddStringToObject(ipc, "sysv_calls",
                            r->ipc_namespace ? "allowed in the private IPC namespace"
                                             : "refused by seccomp");
    cJSON *rl = cJSON_AddObjectToObject(o, "resource_limits");
    for (int i = 0; i < SANDBOX_N_LIMITS; i++) {
        const struct sandbox_limit_state *ls = &r->resources[i];
        cJSON *l = cJSON_AddObjectToObject(rl, sandbox_limit_name((enum sandbox_limit)i));
        if (ls->want)
            cJSON_AddNumberToObject(l, "limit", (double)ls->want);
        else
            cJSON_AddNullToObject(l, "limit");
        cJSON_AddStringToObject(l, "enforced_by", sandbox_via_name(ls->via));
        if (ls->via == SANDBOX_VIA_UNSET)
            continue;
        if (ls->via != SANDBOX_VIA_NOTHING)
            cJSON_AddNumberToObject(l, "value", (double)ls->value);
        cJSON_AddStringToObject(l, ls->via == SANDBOX_VIA_RLIMIT ? "rlimit" : "file", ls->where);
        cJSON_AddStringToObject(l, "scope", scope_of((enum sandbox_limit)i, ls->via));
    }
    cJSON_AddBoolToObject(o, "no_new_privs", r->no_new_privs);
    cJSON_AddNumberToObject(o, "capabilities_dropped", r->capabilities_dropped);
    cJSON_AddStringToObject(o, "network", policy_net_name(r->net_mode));
    if (r->api_port)
        cJSON_AddNumberToObject(o, "api_port", r->api_port);
    cJSON_AddNumberToObject(o, "threads", r->threads);
    cJSON *t = cJSON_AddObjectToObject(o, "timing_us");
    cJSON_AddNumberToObject(t, "probe", r->timing.probe_us);
    cJSON_AddNumberToObject(t, "filesystem", r->timing.fs_us);
    cJSON_AddNumberToObject(t, "exec", r->timing.exec_us);
    cJSON_AddNumberToObject(t, "network", r->timing.net_us);
    cJSON_AddNumberToObject(t, "restrict", r->timing.restrict_us);
    cJSON_AddNumberToObject(t, "seccomp", r->timing.seccomp_us);
    cJSON_AddNumberToObject(t, "total", r->timing.total_us);
    cJSON_AddItemToObject(o, "degradations", notes(r->degradations, r->n_degradations));
    cJSON_AddItemToObject(o, "limits", notes(r->limits, r->n_limits));
    return o;
}

char *sandbox_report_json(const struct sandbox_report *r)
{
    cJSON *o = sandbox_report_object(r);
    char *s = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    return s;
}

struct textbuf {
    char *buf;
    size_t len, need;
};

__attribute__((format(printf, 2, 3))) static void tb(struct textbuf *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = t->need < t->len ? t->len - t->need : 0;
    int n = vsnprintf(room ? t->buf + t->need : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->need += (size_t)n;
}

size_t sandbox_report_text(const struct sandbox_report *r, char *buf, size_t len)
{
    struct textbuf t = {buf, len, 0};
    if (len)
        buf[0] = '\0';
    tb(&t, "sandbox (enforcement %s, network %s)\n", policy_enforcement_name(r->enforcement),
       policy_net_name(r->net_mode));
    if (r->landlock_applied) {
        tb(&t, "  landlock     ABI %d: %u file rules (%u directories expanded), %u exec, %u TCP\n",
           r->landlock_abi, r->fs_rules, r->expanded_dirs, r->exec_rules, r->net_rules);
        tb(&t, "  scoped       %s\n",
           (r->scoped & LANDLOCK_SCOPE_SIGNAL) && (r->scoped & LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET)
               ? "signals, abstract unix sockets"
           : (r->scoped & LANDLOCK_SCOPE_SIGNAL) ? "signals"
           : r->scoped                           ? "abstract unix sockets"
                                                 : "nothing");
    } else {
        tb(&t, "  landlock     %s\n",
           r->landlock_abi ? "not applied (dry run)" : "NOT AVAILABLE on this kernel");
    }
    tb(&t, "  seccomp      %s, %u rules\n",
       r->seccomp_installed   ? "installed"
       : r->seccomp_available ? "not installed (dry run)"
                              : "NOT AVAILABLE",
       r->seccomp_rules);
    tb(&t, "  privileges   no_new_privs %s, %u capabilities dropped\n",
       r->no_new_privs ? "set" : "not set", r->capabilities_dropped);
    tb(&t, "  sysv ipc     %s\n",
       r->ipc_namespace                 ? "allowed in an IPC namespace of the sandbox's own"
       : r->sysv == POLICY_SYSV_PRIVATE ? "refused by seccomp (\"private\" could not be made)"
                                        : "refused by seccomp");
    const char *lead = "  limits       ";
    int shown = 0;
    for (int i = 0; i < SANDBOX_N_LIMITS; i++) {
        const struct sandbox_limit_state *ls = &r->resources[i];
        if (ls->via == SANDBOX_VIA_UNSET)
            continue;
        tb(&t, "%s%-11s %llu, ", lead, limit_names[i], (unsigned long long)ls->want);
        if (ls->via == SANDBOX_VIA_NOTHING)
            tb(&t, "NOT ENFORCED: %s\n", ls->where);
        else
            tb(&t, "%s: %s\n%27s%s = %llu\n", via_names[ls->via],
               scope_of((enum sandbox_limit)i, ls->via), "", ls->where,
               (unsigned long long)ls->value);
        lead = "               ";
        shown++;
    }
    if (!shown)
        tb(&t, "%snone (no process, memory, CPU time or open-file limit)\n", lead);
    tb(&t, "  threads      %d\n", r->threads);
    tb(&t, "  time         %.0f us (seccomp %.0f us)\n", r->timing.total_us, r->timing.seccomp_us);
    for (size_t i = 0; i < r->n_degradations; i++)
        tb(&t, "  NOT ENFORCED %s\n", r->degradations[i]);
    for (size_t i = 0; i < r->n_limits; i++)
        tb(&t, "  limit        %s\n", r->limits[i]);
    return t.need;
}

void sandbox_report_note(char (*v)[SANDBOX_NOTE_MAX], size_t *n, const char *fmt, ...)
{
    if (*n >= SANDBOX_MAX_NOTES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v[*n], SANDBOX_NOTE_MAX, fmt, ap);
    va_end(ap);
    (*n)++;
}

double sandbox_report_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}
