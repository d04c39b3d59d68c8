/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enforcement report as JSON: what the kernel enforces after sandbox_apply(), for
 * `cordon exec --report`, for `cordon doctor` and for the audit log via the shim.
 */
#include "sandbox/report.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "sandbox/landlock.h"

static const struct {
    uint64_t bit;
    const char *name;
} fs_names[] = {
    {LANDLOCK_ACCESS_FS_EXECUTE, "execute"},        {LANDLOCK_ACCESS_FS_WRITE_FILE, "write_file"},
    {LANDLOCK_ACCESS_FS_READ_FILE, "read_file"},    {LANDLOCK_ACCESS_FS_READ_DIR, "read_dir"},
    {LANDLOCK_ACCESS_FS_REMOVE_DIR, "remove_dir"},  {LANDLOCK_ACCESS_FS_REMOVE_FILE, "remove_file"},
    {LANDLOCK_ACCESS_FS_MAKE_CHAR, "make_char"},    {LANDLOCK_ACCESS_FS_MAKE_DIR, "make_dir"},
    {LANDLOCK_ACCESS_FS_MAKE_REG, "make_reg"},      {LANDLOCK_ACCESS_FS_MAKE_SOCK, "make_sock"},
    {LANDLOCK_ACCESS_FS_MAKE_FIFO, "make_fifo"},    {LANDLOCK_ACCESS_FS_MAKE_BLOCK, "make_block"},
    {LANDLOCK_ACCESS_FS_MAKE_SYM, "make_sym"},      {LANDLOCK_ACCESS_FS_REFER, "refer"},
    {LANDLOCK_ACCESS_FS_TRUNCATE, "truncate"},      {LANDLOCK_ACCESS_FS_IOCTL_DEV, "ioctl_dev"},
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

char *sandbox_report_json(const struct sandbox_report *r)
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
    cJSON *se = cJSON_AddObjectToObject(o, "seccomp");
    cJSON_AddBoolToObject(se, "available", r->seccomp_available);
    cJSON_AddBoolToObject(se, "installed", r->seccomp_installed);
    cJSON_AddNumberToObject(se, "rules", r->seccomp_rules);
    cJSON_AddBoolToObject(o, "no_new_privs", r->no_new_privs);
    cJSON_AddNumberToObject(o, "capabilities_dropped", r->capabilities_dropped);
    cJSON_AddStringToObject(o, "network", policy_net_name(r->net_mode));
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
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
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
