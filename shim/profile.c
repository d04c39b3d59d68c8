/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent profile (see profile.h). The environment wins over the file so that one profile
 * file can serve a fleet while one process overrides a single value; an unknown name in the
 * file is an error rather than a silent no-op, because a mistyped CORDON_TRUSTT would
 * otherwise fail later with a less helpful message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/path.h"
#include "base/secret.h"
#include "shim/profile.h"

struct field {
    const char *name;
    size_t off, size;
};

#define F(n, m)                                                                                    \
    {                                                                                              \
        n, offsetof(struct profile, m), sizeof(((struct profile *)0)->m)                           \
    }
static const struct field fields[] = {
    F("CORDON_SERVER", server),       F("CORDON_KEY", key),
    F("CORDON_TRUST", trust),         F("CORDON_POLICY", policy),
    F("CORDON_WORKSPACE", workspace), F("CORDON_LOG", log),
};
#undef F

static char *field_ptr(struct profile *p, const struct field *f)
{
    return (char *)p + f->off;
}

int profile_parse(const char *text, size_t len, struct profile *p, char *err, size_t errlen)
{
    if (len > PROFILE_MAX_BYTES) {
        diag_set(err, errlen,
                 "the profile is %zu bytes, more than the %d allowed; a profile "
                 "holds a few NAME=VALUE lines",
                 len, PROFILE_MAX_BYTES);
        return -EINVAL;
    }
    if (memchr(text, '\0', len)) {
        diag_set(err, errlen, "the profile contains a NUL byte; it must be text");
        return -EINVAL;
    }
    size_t pos = 0;
    for (unsigned line = 1; pos < len; line++) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n && s[n - 1] == '\r')
            n--;
        size_t i = 0;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == n || s[i] == '#')
            continue;
        const char *eq = memchr(s + i, '=', n - i);
        if (!eq) {
            diag_set(err, errlen,
                     "profile line %u: expected NAME=VALUE, such as "
                     "CORDON_SERVER=http://127.0.0.1:8443",
                     line);
            return -EINVAL;
        }
        size_t nlen = (size_t)(eq - (s + i));
        const struct field *f = NULL;
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
            if (strlen(fields[k].name) == nlen && memcmp(fields[k].name, s + i, nlen) == 0)
                f = &fields[k];
        if (!f) {
            char q[96], name[64];
            size_t c = nlen < sizeof name - 1 ? nlen : sizeof name - 1;
            memcpy(name, s + i, c);
            name[c] = '\0';
            diag_quote(name, q, sizeof q);
            diag_set(err, errlen,
                     "profile line %u: unknown variable %s; a profile sets "
                     "CORDON_SERVER, CORDON_KEY, CORDON_TRUST, CORDON_POLICY, "
                     "CORDON_WORKSPACE or CORDON_LOG",
                     line, q);
            return -EINVAL;
        }
        size_t vlen = n - (size_t)(eq + 1 - s);
        if (vlen >= f->size) {
            diag_set(err, errlen,
                     "profile line %u: the value of %s is %zu bytes, more than "
                     "%zu",
                     line, f->name, vlen, f->size - 1);
            return -EINVAL;
        }
        char *dst = field_ptr(p, f);
        if (dst[0] == '\0') { /* the environment, or an earlier line, wins */
            memcpy(dst, eq + 1, vlen);
            dst[vlen] = '\0';
        }
    }
    return 0;
}

int profile_key_valid(const char *s)
{
    if ((strncmp(s, "ck_", 3) != 0 && strncmp(s, "cs_", 3) != 0) || strlen(s) != PROFILE_KEY_LEN)
        return 0;
    for (const char *c = s + 3; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_'))
            return 0;
    return 1;
}

int profile_log_mode(const char *value, enum profile_log *mode, char *err, size_t errlen)
{
    if (!value || !value[0] || strcmp(value, "once") == 0)
        *mode = PROFILE_LOG_ONCE;
    else if (strcmp(value, "all") == 0)
        *mode = PROFILE_LOG_ALL;
    else if (strcmp(value, "off") == 0)
        *mode = PROFILE_LOG_OFF;
    else {
        char q[96];
        diag_quote(value, q, sizeof q);
        diag_set(err, errlen, "CORDON_LOG is %s; expected once, all or off", q);
        return -EINVAL;
    }
    return 0;
}

int profile_check(struct profile *p, char *err, size_t errlen)
{
    if (profile_log_mode(p->log, &p->log_mode, err, errlen) != 0)
        return -EINVAL;
    if (!p->server[0] && !p->policy[0]) {
        diag_set(err, errlen,
                 "no policy source: set CORDON_SERVER (with CORDON_KEY) to fetch "
                 "the agent's policy from cordond, or CORDON_POLICY to a signed "
                 "envelope file made with `cordon sign`");
        return -ENOENT;
    }
    if (p->server[0] && !p->key[0]) {
        diag_set(err, errlen,
                 "CORDON_SERVER is set but CORDON_KEY is not: set CORDON_KEY to "
                 "the agent's key (ck_...) or to a file (mode 0600) holding it");
        return -ENOENT;
    }
    if (p->server[0] && strncmp(p->server, "http://", 7) != 0 &&
        strncmp(p->server, "unix:/", 6) != 0) {
        char q[96];
        diag_quote(p->server, q, sizeof q);
        diag_set(err, errlen, "CORDON_SERVER is %s; expected http://HOST:PORT or unix:/PATH", q);
        return -EINVAL;
    }
    if (!p->trust[0]) {
        diag_set(err, errlen,
                 "CORDON_TRUST is not set: set it to the public key file that "
                 "signs this agent's policies (a .pub from `cordon keygen`), or "
                 "to the key line itself");
        return -ENOENT;
    }
    return 0;
}

int profile_read_file(struct profile *p, const char *file, char *err, size_t errlen)
{
    char *buf = NULL, why[512];
    size_t len = 0;
    unsigned mode = 0;
    int rc = path_read_file(file, PROFILE_MAX_BYTES, &buf, &len, &mode);
    if (rc == -EINVAL || rc == -EFBIG) {
        diag_set(err, errlen, "the profile %s is not a regular file of at most %d bytes", file,
                 PROFILE_MAX_BYTES);
        return -EINVAL;
    }
    if (rc != 0) {
        diag_set(err, errlen, "cannot read the profile %s: %s", file, strerror(-rc));
        return rc;
    }
    int had_key = p->key[0] != '\0';
    if ((rc = profile_parse(buf, len, p, why, sizeof why)) != 0)
        diag_set(err, errlen, "%s: %s", file, why);
    else
        rc = profile_check_file_mode(file, mode, had_key, p, err, errlen);
    secret_free(buf, len); /* a profile may hold the key itself */
    return rc;
}

int profile_load(struct profile *p, char *err, size_t errlen)
{
    return profile_load_from(p, NULL, err, errlen);
}

int profile_load_from(struct profile *p, const struct profile_source *src, char *err, size_t errlen)
{
    static const struct profile_source none;
    const struct profile_source *s = src ? src : &none;
    /* the options, in the order of fields[] */
    const char *const given[sizeof fields / sizeof fields[0]] = {
        s->server, s->key, s->trust, s->policy, s->workspace, NULL,
    };
    int from_options = s->server || s->policy;
    memset(p, 0, sizeof *p);
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        const char *v = given[k];
        char *dst = field_ptr(p, &fields[k]);
        int source = dst == p->server || dst == p->policy;
        if (!v && !(from_options && source))
            v = getenv(fields[k].name);
        if (!v || !*v)
            continue;
        if (strlen(v) >= fields[k].size) {
            diag_set(err, errlen, "%s is %zu bytes, more than %zu", fields[k].name, strlen(v),
                     fields[k].size - 1);
            return -EINVAL;
        }
        memcpy(dst, v, strlen(v) + 1);
    }
    const char *file = s->file ? s->file : getenv("CORDON_PROFILE");
    if (file && *file) {
        int rc = profile_read_file(p, file, err, errlen);
        if (rc != 0)
            return rc;
    }
    if (p->server[0] && p->policy[0] && !s->policy)
        p->policy[0] = '\0'; /* a server wins over an offline file that was not asked for */
    return profile_check(p, err, errlen);
}

int profile_check_file_mode(const char *file, unsigned mode, int had_key, const struct profile *p,
                            char *err, size_t errlen)
{
    if (had_key || strncmp(p->key, "ck_", 3) != 0 || !(mode & 077))
        return 0;
    diag_set(err, errlen,
             "the profile %s holds the agent key itself and is readable by others (mode %03o); "
             "run chmod 600 %s, or put the key in a file of mode 0600 and set CORDON_KEY to "
             "its path",
             file, mode & 0777, file);
    return -EPERM;
}

int profile_key(const struct profile *p, char out[PROFILE_KEY_LEN + 1], char *err, size_t errlen)
{
    return profile_key_of(p->key, out, err, errlen);
}

int profile_key_of(const char *key, char out[PROFILE_KEY_LEN + 1], char *err, size_t errlen)
{
    if (strncmp(key, "ck_", 3) == 0 || strncmp(key, "cs_", 3) == 0) {
        if (!profile_key_valid(key)) {
            diag_set(err, errlen,
                     "CORDON_KEY does not have the form of an agent key (ck_ and "
                     "43 URL-safe base64 characters) or of a session token (cs_ and 43); "
                     "copy the agent key again from cordond's key listing");
            return -EINVAL;
        }
        memcpy(out, key, PROFILE_KEY_LEN + 1);
        return 0;
    }
    char *buf = NULL, why[1024];
    size_t n = 0;
    int rc = secret_read_file("the agent key file", key, 256, &buf, &n, why, sizeof why);
    if (rc != 0) {
        diag_set(err, errlen, "%s (CORDON_KEY)", why);
        return rc;
    }
    if (profile_key_valid(buf)) {
        memcpy(out, buf, PROFILE_KEY_LEN + 1);
    } else {
        diag_set(err, errlen,
                 "the agent key file %s does not hold an agent key (ck_ and 43 "
                 "URL-safe base64 characters on one line)",
                 key);
        rc = -EINVAL;
    }
    secret_free(buf, n);
    return rc;
}
