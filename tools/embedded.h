/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The embedded default: `cordon run --policy POLICY.json` with no server configured starts a
 * private cordond for the length of one run. It gets an ephemeral signing key and agent key in
 * a private directory (0700; cordond's state directory, so the policy it signs denies it to
 * the agent) that disappears afterwards, listens on loopback ports chosen by
 * the kernel, and writes its audit trail into a directory that outlives the run (the caller's,
 * or $XDG_STATE_HOME/cordon/audit).
 */
#ifndef CORDON_TOOLS_EMBEDDED_H
#define CORDON_TOOLS_EMBEDDED_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct embedded {
    pid_t pid;                     /* the private cordond, 0 when not running */
    pid_t writer_pid;              /* its audit writer process, 0 when unknown */
    char dir[160];                 /* private runtime directory, removed by embedded_stop(); short,
                                      so the event socket path fits in sun_path */
    char audit_dir[PATH_MAX];      /* where the audit log stays */
    char server[128];              /* http://127.0.0.1:PORT */
    char key[64];                  /* the agent key (ck_...), wiped by embedded_stop() */
    char key_path[PATH_MAX];       /* where cordond read it; removed once cordond listens */
    char trust_path[PATH_MAX];     /* the ephemeral signing key's public half */
    char signing_path[PATH_MAX];   /* its private half; removed once cordond listens */
    char audit_key_path[PATH_MAX]; /* the audit checkpoint key; removed once cordond listens */
    char log_path[PATH_MAX];       /* cordond's own output */
    char ca_prefix[PATH_MAX];      /* the run's deployment CA, "" when the policy terminates
                                      no TLS; its key is removed once cordond listens */
};

/*
 * 1 when the file at path holds a policy document (a JSON object with "cordon_policy"),
 * 0 when it is anything else (a signed envelope, say). Reads at most 1 MiB.
 */
int embedded_is_policy(const char *path);

/*
 * Refuse an audit directory or a policy file the agent could write: one inside a read_write
 * grant of the policy compiled for this run (the workspace, ${tmp}), judged after both are
 * canonicalised (path_canonical: existing symlinks followed, "//" and ".." folded).
 * audit_dir NULL means the default ($XDG_STATE_HOME/cordon/audit, ~/.local/state/...).
 * Returns 0; -EPERM with err saying which grant and what to do; another negative errno when
 * a path cannot be resolved (err says why). A policy that does not compile passes here: the
 * private cordond reports its errors in full.
 */
__attribute__((warn_unused_result)) int embedded_check_audit(const char *policy_path,
                                                             const char *audit_dir,
                                                             const char *workspace, char *err,
                                                             size_t errlen);

/*
 * A model API the private cordond's proxy forwards to (`cordon run --upstream NAME=URL`):
 * cordond gets `upstream NAME URL kind=NAME key_file=PATH` (from --upstream-key) or
 * `key_env=VAR` (OPENAI_API_KEY, ANTHROPIC_API_KEY: cordond's environment is cordon run's).
 */
#define EMBEDDED_MAX_UPSTREAMS 2
struct embedded_upstream {
    char name[16]; /* openai or anthropic: also the kind */
    char url[1024];
    char key_file[PATH_MAX]; /* absolute, or "" */
    char key_env[32];        /* when key_file is "" */
};

/*
 * Start a private cordond serving the policy at policy_path, with its audit log in audit_dir
 * (NULL: the XDG state directory), the n upstreams ups for its model proxy and its kernel_audit
 * mode (off|on|if-enabled, NULL: cordond's default, kaudit.h). When the policy names a host
 * whose TLS cordond terminates, a CA is made for the run (its key gone once cordond has read
 * it) and origin_ca (NULL: none) is what cordond trusts besides the system. Waits until it
 * listens. On failure err says what failed and where cordond's own output is; nothing is left
 * running. Returns 0 or a negative errno.
 */
__attribute__((warn_unused_result)) int
embedded_start(const char *policy_path, const char *audit_dir, const struct embedded_upstream *ups,
               size_t n, const char *kernel_audit, const char *origin_ca, struct embedded *e,
               char *err, size_t errlen);

/*
 * The last three lines of cordond's output (what it said before it stopped), indented, for a
 * message. Returns 0 (out may be empty) or a negative errno.
 */
int embedded_tail(const struct embedded *e, char *out, size_t len);

/*
 * The private cordond has exited on its own (it was reaped): wipe the key, wait (at most 10 s)
 * for its audit writer to finish if it became our child, and keep the private directory, whose
 * cordond.log says what happened. embedded_stop() must not be called afterwards.
 */
void embedded_abandon(struct embedded *e);

/*
 * Stop the private cordond (SIGTERM, then SIGKILL after 10 s), wait for it so that its audit
 * log is closed with a final checkpoint, and remove the private directory. Returns 0 when
 * cordond exited cleanly, -EIO otherwise (its output is then kept and named on stderr).
 */
int embedded_stop(struct embedded *e);

#endif
