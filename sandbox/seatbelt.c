/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The macOS half of the kernel sandbox: the compiled policy as a Seatbelt profile (SBPL), and
 * on macOS sandbox_apply(), which hands that profile to sandbox_init(). The profile is built
 * on every OS, so the Linux test suite pins it with golden files and `cordon` can show what a
 * Mac would enforce. SBPL applies the LAST rule that matches an operation, so the profile is
 * laid out as: deny by default, the allows (system, policy grants, exec, network), then every
 * deny, so that a deny can narrow any allow above it and nothing below can re-open it.
 *
 * Seatbelt matches paths as the kernel resolved them (/tmp is /private/tmp), so each policy
 * path is written under every spelling it can take: as expanded, as resolved when policy_load
 * resolved it, and with /private in front for macOS's /tmp, /var and /etc symlinks, which a
 * Linux host cannot resolve. Every string taken from the policy is quoted and escaped, so a
 * path cannot end its string and add a rule. Each fixed rule says why it is there; the limits
 * of the mapping are written down in docs/SECURITY.md ("macOS (Seatbelt)").
 */
#include "base/grow.h"
#include "sandbox/sandbox.h"
#include "sandbox/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- text buffer */

struct sbpl {
    char *buf;
    size_t len, cap;
    int oom;
    /* What the profile grants, for the enforcement report. */
    unsigned fs_rules, exec_rules, net_rules;
};

static void put_n(struct sbpl *s, const char *str, size_t n)
{
    if (s->oom)
        return;
    if (GROW(&s->buf, &s->cap, s->len + n + 1) != 0) {
        s->oom = 1;
        return;
    }
    memcpy(s->buf + s->len, str, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

static void put(struct sbpl *s, const char *str)
{
    put_n(s, str, strlen(str));
}

/* One character inside an SBPL string literal: the reader treats backslash as an escape, and
 * a double quote would end the string, so both get a backslash. Other bytes (UTF-8 included)
 * stand for themselves. */
static void put_char(struct sbpl *s, char c)
{
    char two[2] = {'\\', c};
    if (c == '\\' || c == '"')
        put_n(s, two, 2);
    else
        put_n(s, &c, 1);
}

static void put_chars(struct sbpl *s, const char *str)
{
    for (; *str; str++)
        put_char(s, *str);
}

/* Regular-expression metacharacters (POSIX extended, as Seatbelt's matcher reads them). */
static int rx_meta(char c)
{
    return c && strchr(".[](){}*+?^$|\\", c) != NULL;
}

/* A literal run of text inside a regex inside a string: the regex escape is a backslash,
 * which the string needs escaped in turn ("\\." in the profile is the regex \. ). */
static void put_rx_literal(struct sbpl *s, const char *str)
{
    for (; *str; str++) {
        if (rx_meta(*str))
            put_char(s, '\\');
        put_char(s, *str);
    }
}

/* A policy glob over one file name ('*' any run, '?' one character) as a regex fragment.
 * Names never hold '/', so neither wildcard may cross one. */
static void put_rx_glob(struct sbpl *s, const char *glob)
{
    for (; *glob; glob++) {
        if (*glob == '*')
            put(s, "[^/]*");
        else if (*glob == '?')
            put(s, "[^/]");
        else {
            char one[2] = {*glob, '\0'};
            put_rx_literal(s, one);
        }
    }
}

static int is_glob(const char *name)
{
    return strpbrk(name, "*?") != NULL;
}

/* ---------------------------------------------------------------- path spellings */

/* One spelling of a path: prefix and path are written one after the other. */
struct spelling {
    const char *prefix, *path;
};

#define MAX_SPELLINGS 4

/* On macOS these are symlinks into /private; Seatbelt sees only the target. */
static const char *const private_links[] = {"/tmp", "/var", "/etc", NULL};

static int needs_private(const char *p)
{
    for (size_t i = 0; private_links[i]; i++)
        if (path_within(p, private_links[i]))
            return 1;
    return 0;
}

/* prefix+path of a and of b name the same string. */
static int spelling_eq(const struct spelling *a, const struct spelling *b)
{
    const char *pa = a->prefix, *sa = a->path, *pb = b->prefix, *sb = b->path;
    for (;;) {
        if (!*pa) {
            pa = sa;
            sa = "";
        }
        if (!*pb) {
            pb = sb;
            sb = "";
        }
        if (*pa != *pb)
            return 0;
        if (!*pa)
            return 1;
        pa++;
        pb++;
    }
}

static void add_spelling(struct spelling *v, size_t *n, const char *prefix, const char *path)
{
    struct spelling sp = {prefix, path};
    for (size_t i = 0; i < *n; i++)
        if (spelling_eq(&v[i], &sp))
            return;
    if (*n < MAX_SPELLINGS)
        v[(*n)++] = sp;
}

/* Every spelling of pp that the kernel may report: as written, as resolved, and each behind
 * /private when it starts with one of macOS's /private symlinks. */
static size_t spellings(const struct policy_path *pp, struct spelling v[MAX_SPELLINGS])
{
    size_t n = 0;
    const char *forms[2] = {pp->path, pp->real};
    for (size_t i = 0; i < 2; i++)
        if (forms[i])
            add_spelling(v, &n, "", forms[i]);
    for (size_t i = 0; i < 2; i++)
        if (forms[i] && needs_private(forms[i]))
            add_spelling(v, &n, "/private", forms[i]);
    return n;
}

/* ---------------------------------------------------------------- rules */

/*
 * A rule is written as its head ("(allow file-read*") and then one filter per line. A rule
 * with no filter would apply to everything, so callers open a rule only when they have at
 * least one filter for it (rule_paths() checks this itself).
 */
static void filter_open(struct sbpl *s, const char *kind)
{
    put(s, "\n    (");
    put(s, kind);
    put(s, " \"");
}

static void filter_close(struct sbpl *s)
{
    put(s, "\")");
}

static void filter_path(struct sbpl *s, const char *kind, const struct spelling *sp)
{
    filter_open(s, kind);
    put_chars(s, sp->prefix);
    put_chars(s, sp->path);
    filter_close(s);
}

static void filter_fixed(struct sbpl *s, const char *kind, const char *str)
{
    filter_open(s, kind);
    put_chars(s, str);
    filter_close(s);
}

/* The root directory, whose programs are "/NAME", not "//NAME". */
static int is_root(const struct spelling *sp)
{
    return !*sp->prefix && strcmp(sp->path, "/") == 0;
}

/* (regex "^DIR/GLOB$") for a name in one directory, or (regex "/GLOB$") for a name in any
 * directory when sp is NULL. */
static void filter_name(struct sbpl *s, const struct spelling *sp, const char *glob)
{
    filter_open(s, "regex");
    if (sp) {
        put(s, "^");
        if (!is_root(sp)) {
            put_rx_literal(s, sp->prefix);
            put_rx_literal(s, sp->path);
        }
    }
    put(s, "/");
    put_rx_glob(s, glob);
    put(s, "$");
    filter_close(s);
}

static void rule_close(struct sbpl *s)
{
    put(s, ")\n");
}

/* One rule over every spelling of the n paths in v; nothing when n is 0. Returns the number
 * of filters written. */
static unsigned rule_paths(struct sbpl *s, const char *head, const char *kind,
                           const struct policy_path *v, size_t n)
{
    unsigned filters = 0;
    if (n == 0)
        return 0;
    put(s, head);
    for (size_t i = 0; i < n; i++) {
        struct spelling sp[MAX_SPELLINGS];
        size_t ns = spellings(&v[i], sp);
        for (size_t j = 0; j < ns; j++, filters++)
            filter_path(s, kind, &sp[j]);
    }
    rule_close(s);
    return filters;
}

/* The same over fixed paths (NULL-terminated), which are already as Seatbelt sees them. */
static void rule_fixed(struct sbpl *s, const char *head, const char *kind, const char *const *paths)
{
    put(s, head);
    for (size_t i = 0; paths[i]; i++)
        filter_fixed(s, kind, paths[i]);
    rule_close(s);
}

/* ---------------------------------------------------------------- sections */

/* Read-only system locations every dynamically linked program needs: the libraries and
 * frameworks (dyld's shared cache lives under /System/Volumes/Preboot/Cryptexes on macOS 13+),
 * the tools, and /Library for its frameworks, fonts and the command line tools. Libraries are
 * mapped executable, which Seatbelt checks apart from reading (file-map-executable). */
static const char *const system_code[] = {"/usr", "/System", "/Library", "/bin", "/sbin", NULL};
/* Configuration (hosts, passwd, resolv.conf, TLS roots, shell rc files) and time zones. */
static const char *const system_data[] = {"/private/etc", "/private/var/db/timezone", NULL};
/* Helper programs that other programs run: /usr/bin/git, cc, make and python3 are shims that
 * run the real tool from the developer directory, and /usr/libexec holds helpers such as
 * path_helper (run by every login shell). The macOS twin of Linux's /usr/libexec grant;
 * given in denylist mode only, where every program may run unless denied by name. */
static const char *const dev_exec[] = {"/usr/libexec", "/Library/Developer/CommandLineTools",
                                       "/Applications/Xcode.app/Contents/Developer", NULL};
/* Of those, the one outside the system reads above. */
static const char *const dev_read[] = {"/Applications/Xcode.app/Contents/Developer", NULL};

static void base_rules(struct sbpl *s, const struct policy *p)
{
    put(s, "\n; Any program may fork; which programs may be executed is decided below.\n"
           "(allow process-fork)\n");

    put(s, "\n; stat() anywhere: realpath(), getcwd() and every path walk need the metadata of "
           "each\n; ancestor. Contents stay denied unless a rule below allows them.\n"
           "(allow file-read-metadata)\n");

    put(s, "\n; The system: libraries, frameworks and tools, which dyld also maps executable.\n");
    rule_fixed(s, "(allow file-read* file-map-executable", "subpath", system_code);
    put(s, "; System configuration and time zones.\n");
    rule_fixed(s, "(allow file-read*", "subpath", system_data);

    put(s, "\n; Devices every program expects.\n");
    static const char *const dev_rw[] = {"/dev/null", "/dev/zero", NULL};
    static const char *const dev_ro[] = {"/dev/random", "/dev/urandom", NULL};
    static const char *const dev_tty[] = {"/dev/tty", NULL};
    static const char *const dev_fd[] = {"/dev/fd", NULL};
    rule_fixed(s, "(allow file-read* file-write-data", "literal", dev_rw);
    rule_fixed(s, "(allow file-read*", "literal", dev_ro);
    put(s, "; The controlling terminal, whatever device it is.\n");
    rule_fixed(s, "(allow file-read* file-write* file-ioctl", "literal", dev_tty);
    put(s, "; /dev/fd/N only duplicates a descriptor the process already holds.\n");
    rule_fixed(s, "(allow file-read* file-write-data", "subpath", dev_fd);
    put(s, "; Pseudo-terminals the sandbox opens itself (agent harnesses run shells on them). "
           "A pty\n; created inside the sandbox carries the com.apple.sandbox.pty extension; the "
           "user's\n; other terminals do not, and stay out of reach.\n"
           "(allow pseudo-tty)\n");
    static const char *const ptmx[] = {"/dev/ptmx", NULL};
    rule_fixed(s, "(allow file-read* file-write* file-ioctl", "literal", ptmx);
    put(s, "(allow file-read* file-write* file-ioctl\n"
           "    (require-all (regex #\"^/dev/ttys[0-9]+$\") "
           "(extension \"com.apple.sandbox.pty\")))\n");

    if (p->sandbox.ipc.signals == POLICY_SCOPE_SCOPED)
        put(s, "\n; ipc.signals \"scoped\": signals to itself and to the processes of this "
               "sandbox only.\n"
               "(allow signal (target self))\n"
               "(allow signal (target same-sandbox))\n");
    else
        put(s, "\n; ipc.signals \"open\".\n"
               "(allow signal)\n");
    put(s, "; ps, pgrep and language runtimes inspect themselves and the processes they "
           "started.\n"
           "(allow process-info* (target same-sandbox))\n");
    put(s, "; ipc.abstract_unix: macOS has no abstract Unix socket namespace. Connecting to a "
           "Unix\n; socket is network-outbound, which only network mode \"host\" allows.\n");

    put(s, "\n; libc, language runtimes and uname read many hw.* and kern.* values; a list of "
           "names\n; breaks with each macOS release. sysctl writes stay denied.\n"
           "(allow sysctl-read)\n");
    put(s, "; User and group lookups (getpwuid: shells, git, ssh) go through opendirectoryd.\n"
           "(allow mach-lookup (global-name \"com.apple.system.opendirectoryd.libinfo\"))\n");
    put(s, "; Python's multiprocessing locks are POSIX named semaphores. Shared memory stays "
           "denied.\n"
           "(allow ipc-posix-sem)\n");
}

/* read_only entries equal to a read_write entry (${cwd} and ${workspace} when the agent runs
 * in its workspace) add nothing: the wider grant applies. */
static int granted_rw(const struct policy *p, const char *path)
{
    const struct policy_paths *rw = &p->sandbox.fs.read_write;
    for (size_t i = 0; i < rw->n; i++)
        if (strcmp(rw->v[i].path, path) == 0)
            return 1;
    return 0;
}

/* Libraries are mapped executable from granted directories, as Linux lets any readable file
 * be mapped: the exec rules govern execve(), not code loading (docs/SECURITY.md). */
static void fs_grants(struct sbpl *s, const struct policy *p)
{
    const struct policy_paths *rw = &p->sandbox.fs.read_write;
    const struct policy_paths *ro = &p->sandbox.fs.read_only;
    if (rw->n) {
        put(s, "\n; filesystem.read_write\n");
        s->fs_rules += rule_paths(s, "(allow file-read* file-write* file-map-executable", "subpath",
                                  rw->v, rw->n);
    }
    size_t n = 0;
    for (size_t i = 0; i < ro->n; i++)
        n += !granted_rw(p, ro->v[i].path);
    if (n == 0)
        return;
    put(s, "\n; filesystem.read_only\n");
    put(s, "(allow file-read* file-map-executable");
    for (size_t i = 0; i < ro->n; i++) {
        if (granted_rw(p, ro->v[i].path))
            continue;
        struct spelling sp[MAX_SPELLINGS];
        size_t ns = spellings(&ro->v[i], sp);
        for (size_t j = 0; j < ns; j++, s->fs_rules++)
            filter_path(s, "subpath", &sp[j]);
    }
    rule_close(s);
}

static int exec_allowlist(const struct policy *p)
{
    const struct policy_list *a = &p->sandbox.exec.allow_names;
    return !(a->n == 1 && strcmp(a->v[0], "*") == 0);
}

/*
 * process-exec* covers process-exec and process-exec-interpreter: a script's #! interpreter
 * is checked too, as Linux checks EXECUTE on it. Everything that may run may also be read
 * (scripts are read by their interpreter) and mapped (dyld reads the program's own image).
 */
static void exec_grants(struct sbpl *s, const struct policy *p)
{
    const struct policy_paths *search = &p->sandbox.exec.search;
    const struct policy_paths *paths = &p->sandbox.exec.allow_paths;
    const struct policy_list *names = &p->sandbox.exec.allow_names;

    if (search->n || paths->n) {
        put(s, "\n; exec.search and exec.allow (paths) hold the programs that may run; they may "
               "be read.\n");
        rule_paths(s, "(allow file-read* file-map-executable", "subpath", search->v, search->n);
        rule_paths(s, "(allow file-read* file-map-executable", "subpath", paths->v, paths->n);
    }
    if (!exec_allowlist(p)) {
        if (search->n) {
            put(s, "\n; exec.allow [\"*\"]: every program in the search directories, unless "
                   "denied below.\n");
            s->exec_rules += rule_paths(s, "(allow process-exec*", "subpath", search->v, search->n);
        }
        put(s, "; The developer tools and system helpers other programs run (exec.allow "
               "[\"*\"] only).\n");
        rule_fixed(s, "(allow file-read* file-map-executable", "subpath", dev_read);
        rule_fixed(s, "(allow process-exec*", "subpath", dev_exec);
        s->exec_rules += sizeof dev_exec / sizeof dev_exec[0] - 1;
    } else if (names->n && search->n) {
        put(s, "\n; exec.allow (names): these programs in the search directories, nothing "
               "else there.\n");
        put(s, "(allow process-exec*");
        for (size_t i = 0; i < search->n; i++) {
            struct spelling sp[MAX_SPELLINGS];
            size_t ns = spellings(&search->v[i], sp);
            for (size_t j = 0; j < ns; j++)
                for (size_t k = 0; k < names->n; k++, s->exec_rules++) {
                    if (is_glob(names->v[k])) {
                        filter_name(s, &sp[j], names->v[k]);
                        continue;
                    }
                    filter_open(s, "literal");
                    if (!is_root(&sp[j])) {
                        put_chars(s, sp[j].prefix);
                        put_chars(s, sp[j].path);
                    }
                    put_char(s, '/');
                    put_chars(s, names->v[k]);
                    filter_close(s);
                }
        }
        rule_close(s);
    } else {
        put(s, "\n; exec.allow (names) is empty or there is no search directory: no program "
               "from the\n; search directories may run.\n");
    }
    if (paths->n) {
        put(s, "; exec.allow (paths)\n");
        s->exec_rules += rule_paths(s, "(allow process-exec*", "subpath", paths->v, paths->n);
    }
}

/* The governance proxy listens on the loopback interface; SBPL names it "localhost" and can
 * filter the remote port, not the remote address (docs/SECURITY.md). */
static void net_grants(struct sbpl *s, const struct policy *p, const struct sandbox_opts *o)
{
    size_t nports = o ? o->n_proxy_ports : 0;
    if (nports > SANDBOX_MAX_PORTS)
        nports = SANDBOX_MAX_PORTS;
    switch (p->sandbox.net.mode) {
    case POLICY_NET_NONE:
        put(s, "\n; network \"none\": no socket may connect, bind or listen, Unix sockets "
               "included.\n");
        return;
    case POLICY_NET_HOST:
        put(s, "\n; network \"host\": the network is not restricted.\n"
               "(allow network*)\n");
        break;
    case POLICY_NET_PROXY:
        put(s, "\n; network \"proxy\": TCP to the governance proxy on this host, nothing "
               "else.\n");
        for (size_t i = 0; i < nports; i++) {
            uint16_t port = o->proxy_ports[i];
            int dup = port == 0;
            for (size_t j = 0; j < i; j++)
                dup |= o->proxy_ports[j] == port;
            if (dup)
                continue;
            char line[80];
            snprintf(line, sizeof line, "(allow network-outbound (remote tcp \"localhost:%u\"))\n",
                     (unsigned)port);
            put(s, line);
            s->net_rules++;
        }
        if (s->net_rules == 0)
            put(s, "; No proxy port was given: no connection is allowed.\n");
        break;
    }
    put(s, "; TLS clients built on Security.framework (Go programs, the gh CLI) ask trustd to "
           "check\n; certificates. The keychain (securityd) stays out of reach.\n"
           "(allow mach-lookup (global-name \"com.apple.trustd\") "
           "(global-name \"com.apple.trustd.agent\"))\n");
}

/* The terminals this process was started on (sandbox_apply() finds them): writes and ioctls
 * on an inherited terminal are checked, and the pty extension above covers only ptys opened
 * inside the sandbox. */
static void tty_grants(struct sbpl *s, const char *const *ttys, size_t n)
{
    if (n == 0)
        return;
    put(s, "\n; The terminals this process was started on.\n");
    put(s, "(allow file-read* file-write* file-ioctl");
    for (size_t i = 0; i < n; i++)
        filter_fixed(s, "literal", ttys[i]);
    rule_close(s);
}

static void exec_denies(struct sbpl *s, const struct policy *p)
{
    const struct policy_list *names = &p->sandbox.exec.deny_names;
    const struct policy_paths *paths = &p->sandbox.exec.deny_paths;
    if (names->n) {
        /* Linux matches denied programs by inode, so the real git behind the /usr/bin/git shim
         * is caught; Seatbelt has only paths, so a denied name is denied in every directory. */
        put(s, "\n; exec.deny (names): a program of that name in any directory, the developer "
               "tools\n; behind the /usr/bin shims included.\n");
        put(s, "(deny process-exec*");
        for (size_t i = 0; i < names->n; i++)
            filter_name(s, NULL, names->v[i]);
        rule_close(s);
    }
    if (paths->n) {
        put(s, "\n; exec.deny (paths)\n");
        rule_paths(s, "(deny process-exec*", "subpath", paths->v, paths->n);
    }
}

/* Last, so that no allow above can re-open a denied path. file-read-metadata is left out on
 * purpose: stat() and path walks through a denied directory keep working, its contents,
 * extended attributes, writes and programs do not. */
static void fs_denies(struct sbpl *s, const struct policy *p)
{
    const struct policy_paths *dn = &p->sandbox.fs.deny;
    if (dn->n == 0)
        return;
    put(s, "\n; filesystem.deny, the credential set included: metadata stays readable, "
           "nothing else.\n");
    for (size_t i = 0; i < dn->n; i++)
        rule_paths(s, "(deny file-read-data file-read-xattr file-write* process-exec*", "subpath",
                   &dn->v[i], 1);
}

/* The whole profile; ttys are the terminals to grant (sandbox_apply() only). */
static int seatbelt_build(const struct policy *p, const struct sandbox_opts *o,
                          const char *const *ttys, size_t nttys, struct sbpl *s)
{
    int rc = -ENOMEM;
    put(s, "(version 1)\n"
           "(deny default)\n"
           "; Generated by cordon from a compiled policy. The last matching rule wins: every "
           "deny\n; comes after the allows it narrows.\n");
    base_rules(s, p);
    fs_grants(s, p);
    exec_grants(s, p);
    net_grants(s, p, o);
    tty_grants(s, ttys, nttys);
    exec_denies(s, p);
    fs_denies(s, p);
    if (s->oom)
        goto out;
    rc = 0;
out:
    return rc;
}

int sandbox_seatbelt_profile(const struct policy *p, const struct sandbox_opts *o, char **out)
{
    int rc = -ENOMEM;
    struct sbpl s = {0};
    *out = NULL;
    if ((rc = seatbelt_build(p, o, NULL, 0, &s)) != 0)
        goto out;
    *out = s.buf;
    s.buf = NULL; /* transferred */
    rc = 0;
out:
    free(s.buf);
    return rc;
}

/* ---------------------------------------------------------------- apply (macOS) */

#ifdef __APPLE__
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

/* libsystem_sandbox: public once, deprecated since 10.8, still what sandbox-exec(1) uses.
 * With flags 0 the profile argument is SBPL text. Declared here because <sandbox.h> marks
 * them deprecated, and -Werror would refuse the build. */
int sandbox_init(const char *profile, uint64_t flags, char **errorbuf);
void sandbox_free_error(char *errorbuf);

/* What Seatbelt cannot do even when the profile applied (docs/SECURITY.md). */
static const char *const seatbelt_limits[] = {
    "seatbelt: sandbox_init() is a deprecated Apple interface and SBPL is private; a macOS "
    "release may change either",
    "seatbelt: file metadata (names, sizes, times) is readable everywhere, denied paths included",
    "seatbelt: no abstract Unix sockets on macOS; Unix socket connections are allowed only in "
    "network mode host",
    "seatbelt: rules match paths, not inodes; file descriptors opened before the sandbox keep "
    "working",
    NULL,
};

static void add_limits(const struct policy *p, struct sandbox_report *r)
{
    for (size_t i = 0; seatbelt_limits[i]; i++)
        sandbox_report_note(r->limits, &r->n_limits, "%s", seatbelt_limits[i]);
    if (p->sandbox.net.mode == POLICY_NET_PROXY)
        sandbox_report_note(
            r->limits, &r->n_limits, "%s",
            "seatbelt: network rules name localhost ports only; the proxy, not the kernel, "
            "decides which hosts are reached");
}

/* The terminal devices on stdin, stdout and stderr, without repeats. */
static size_t own_ttys(char names[3][64], const char *ttys[3])
{
    size_t n = 0;
    for (int fd = 0; fd <= 2; fd++) {
        if (ttyname_r(fd, names[n], sizeof names[n]) != 0 || strncmp(names[n], "/dev/", 5) != 0)
            continue;
        int dup = 0;
        for (size_t i = 0; i < n; i++)
            dup |= strcmp(ttys[i], names[n]) == 0;
        if (!dup) {
            ttys[n] = names[n];
            n++;
        }
    }
    return n;
}

int sandbox_apply(const struct policy *p, const struct sandbox_opts *o, struct sandbox_report *r,
                  char *err, size_t errlen)
{
    int rc = SANDBOX_ERR_NOMEM;
    struct sbpl s = {0};
    char *sberr = NULL;
    char names[3][64];
    const char *ttys[3];
    double t0 = sandbox_report_clock_us(), t;

    memset(r, 0, sizeof *r);
    r->enforcement = p->sandbox.enforcement;
    r->net_mode = p->sandbox.net.mode;
    r->threads = -1; /* Seatbelt restricts the whole process: the count does not matter */

    if (seatbelt_build(p, o, ttys, own_ttys(names, ttys), &s) != 0) {
        diag_set(err, errlen, "seatbelt: out of memory while building the profile");
        goto out;
    }
    r->fs_rules = s.fs_rules;
    r->exec_rules = s.exec_rules;
    r->net_rules = s.net_rules;
    r->sysv = p->sandbox.ipc.sysv;
    /* Not ported to macOS: sandbox.limits, and a SysV namespace of the sandbox's own
     * (Seatbelt's deny default refuses SysV IPC, which is "deny"). */
    const char *gap = NULL;
    if (p->sandbox.limits.processes || p->sandbox.limits.memory || p->sandbox.limits.cpu_seconds ||
        p->sandbox.limits.open_files)
        gap = "sandbox.limits is not enforced on macOS yet";
    else if (p->sandbox.ipc.sysv == POLICY_SYSV_PRIVATE)
        gap = "sandbox.ipc.sysv \"private\" has no IPC namespace on macOS: SysV IPC stays "
              "refused";
    if (gap && p->sandbox.enforcement == POLICY_STRICT) {
        diag_set(err, errlen,
                 "seatbelt: %s; remove it from the policy or set "
                 "\"enforcement\": \"best_effort\"",
                 gap);
        rc = SANDBOX_ERR_UNSUPPORTED;
        goto out;
    }
    if (gap)
        sandbox_report_note(r->degradations, &r->n_degradations, "%s", gap);
    if (p->sandbox.net.mode == POLICY_NET_PROXY && s.net_rules == 0)
        sandbox_report_note(
            r->limits, &r->n_limits, "%s",
            "network mode proxy without a proxy port: no TCP connection is allowed");
    add_limits(p, r);
    if (o && o->dry_run) {
        rc = SANDBOX_OK;
        goto out;
    }

    t = sandbox_report_clock_us();
    if (sandbox_init(s.buf, 0, &sberr) != 0) {
        if (p->sandbox.enforcement == POLICY_STRICT) {
            diag_set(err, errlen,
                     "seatbelt: sandbox_init() refused the profile (%s); this macOS may not "
                     "know an operation it uses; report it with `cordon policy explain`, or set "
                     "\"enforcement\": \"best_effort\" to run unconfined",
                     sberr ? sberr : "no reason given");
            rc = SANDBOX_ERR_SYSCALL;
            goto out;
        }
        sandbox_report_note(
            r->degradations, &r->n_degradations,
            "seatbelt: sandbox_init() refused the profile (%s); nothing is enforced",
            sberr ? sberr : "no reason given");
    }
    r->timing.restrict_us = sandbox_report_clock_us() - t;
    rc = SANDBOX_OK;
out:
    r->timing.total_us = sandbox_report_clock_us() - t0;
    if (sberr)
        sandbox_free_error(sberr);
    free(s.buf);
    return rc;
}
#endif
