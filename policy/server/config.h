/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cordond's configuration: an sshd_config-like file of `key value` lines with `#` comments,
 * and command-line flags that override it key by key. Every error names the file and line
 * (or the flag), the key, what was expected and what to do, because a daemon that refuses to
 * start must say exactly why. docs/SERVER.md lists every key.
 */
#ifndef CORDON_SERVER_CONFIG_H
#define CORDON_SERVER_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#define CONFIG_MAX_BYTES (64u * 1024) /* a config file larger than this is refused */
#define CONFIG_MAX_LINE 1024          /* bytes in one line */
#define CONFIG_MAX_LISTEN 8
#define CONFIG_MAX_UPSTREAMS 16
#define CONFIG_ADDR_MAX 256

#define CONFIG_UPSTREAM_KIND_OPENAI 1
#define CONFIG_UPSTREAM_KIND_ANTHROPIC 2
struct config_upstream {
    char name[64];
    char url[512];
    int kind;                /* CONFIG_UPSTREAM_KIND_* */
    char key_file[PATH_MAX]; /* "" or a 0600 file holding the provider key */
    char ca_file[PATH_MAX];  /* "" (the system store) or the PEM CAs the upstream's TLS must
                                chain to, in place of the system store */
    char key_env[64];        /* "" or a variable of cordond's environment */
    char models[256];        /* "" (every model of its kind) or GLOB,GLOB */
};

struct config {
    char listen[CONFIG_MAX_LISTEN][CONFIG_ADDR_MAX]; /* "127.0.0.1:7071", "[::1]:7071", "unix:/p" */
    size_t n_listen;
    char tunnel_listen[CONFIG_ADDR_MAX]; /* TCP only: the CONNECT listener */
    char admin_listen[CONFIG_ADDR_MAX];  /* the only listener of the admin endpoints:
                                            "unix:/PATH" (default
                                            unix:/run/cordond/admin.sock) or TCP */
    char policies_dir[PATH_MAX];
    char policy_file[PATH_MAX];    /* single-policy mode (--policy): instead of policies_dir */
    char agent_keys[PATH_MAX];     /* the keys file; default STATE/agents */
    char agent_key_file[PATH_MAX]; /* a pre-made key for the single policy's agent */
    char audit_dir[PATH_MAX];
    char signing_key[PATH_MAX];
    char audit_key[PATH_MAX];        /* signs audit checkpoints; "" = signing_key (warned) */
    char admin_token_file[PATH_MAX]; /* empty: admin endpoints are off */
    char state_dir[PATH_MAX];
    char events_socket[PATH_MAX]; /* default STATE/events.sock; "off" disables the channel */
    char ready_file[PATH_MAX];    /* written once listening: the chosen addresses */
    char audit_fsync[16];         /* always | batch | none */
    char audit_on_failure[16];    /* refuse (503 until restarted) | exit (status 3) */
    char audit_origin[128];
    char kernel_audit[16];          /* off | on | if-enabled (kaudit.h; default if-enabled) */
    time_t policy_expiry;           /* seconds; default 24h */
    unsigned threads;               /* HTTP worker threads */
    unsigned connection_timeout;    /* seconds an idle HTTP connection is kept */
    unsigned handshake_timeout;     /* seconds a tunnel client has to send its CONNECT */
    unsigned tunnel_idle_timeout;   /* seconds a tunnel may carry nothing before it is closed */
    unsigned max_connections;       /* HTTP connections at once */
    unsigned max_tunnels;           /* tunnels at once */
    unsigned max_tunnels_per_agent; /* tunnels one agent may hold at once; unset (0):
                                       max_tunnels with one policy file, else half of it */
    unsigned event_rate;            /* events per second per agent (token bucket refill) */
    unsigned event_burst;           /* bucket size */
    struct config_upstream upstreams[CONFIG_MAX_UPSTREAMS];
    size_t n_upstreams;
    unsigned upstream_connect_timeout_ms;    /* default 5000 */
    unsigned upstream_first_byte_timeout_ms; /* default 60000 */
    unsigned upstream_idle_timeout_ms;       /* default 60000 */
    unsigned proxy_max_body;                 /* bytes of a request body; default 8 MiB */
    char tls_ca[PATH_MAX];        /* the deployment CA's prefix (PREFIX.ca.pem, PREFIX.ca.key):
                                     terminates TLS for sandbox.network.http "tls": "terminate" */
    char origin_ca[PATH_MAX];     /* PEM CAs trusted for origins besides the system's */
    char data_key_file[PATH_MAX]; /* the data key (api.data hash, exact-data-match files);
                                     default STATE/data.key, created when missing */
    int data_key_default;         /* set by config_finish(): data_key_file was not configured */
    /* private: which keys were set by the file (twice is an error) and by flags */
    unsigned long long set_file, set_flag;
};

/* Fill c with the defaults (state dir /var/lib/cordond, listen 127.0.0.1:7071, ...). */
void config_defaults(struct config *c);

/*
 * Read a config file into c. Unknown keys, a key set twice, malformed values, lines over
 * CONFIG_MAX_LINE, files over CONFIG_MAX_BYTES or holding NUL bytes are errors naming
 * "FILE:LINE: KEY". Returns 0 or -EINVAL / a negative errno with err set.
 */
__attribute__((warn_unused_result)) int config_load_file(struct config *c, const char *path,
                                                         char *err, size_t errlen);
/* Parse a whole config text (what config_load_file reads); name is used in messages. */
__attribute__((warn_unused_result)) int config_parse(struct config *c, const char *text, size_t len,
                                                     const char *name, char *err, size_t errlen);

/*
 * Set key from a command-line flag: it overrides the file's value (for listen and upstream,
 * the flags replace the file's whole list). where names the flag for messages.
 */
__attribute__((warn_unused_result)) int
config_set_flag(struct config *c, const char *key, const char *value, char *err, size_t errlen);

/* Fill the paths that default inside the state dir and check the combination (a policies
 * dir or a policy file, a signing key, ...). Returns 0 or -EINVAL with err set. */
__attribute__((warn_unused_result)) int config_finish(struct config *c, char *err, size_t errlen);

/*
 * The paths this configuration keeps secret, which cordond adds to every policy it signs as
 * host_deny: signing_key, audit_key, admin_token_file, state_dir, audit_dir, agent_keys,
 * agent_key_file, policies_dir or policy_file, and the directory of a unix admin_listen when
 * the admin endpoints are on. Each is given as path_canonical() resolves it and, when that
 * differs, also as configured (normalized), without duplicates. Call after config_finish().
 * Returns the number written to out (at most max), or -EINVAL with err set when one of them is
 * "/" (every path would then be denied) or there are more than max.
 */
#define CONFIG_MAX_SECRETS 32
__attribute__((warn_unused_result)) int config_secret_paths(const struct config *c,
                                                            char (*out)[PATH_MAX], size_t max,
                                                            char *err, size_t errlen);

/*
 * The data key (32 bytes): the key of api.data's hash action and of exact-data-match files
 * (`cordon data fingerprint --key` must be given the same file). Read from data_key_file
 * (mode 0600, no symlink, exactly 32 bytes); when it is missing at its default place in the
 * state dir, 32 random bytes are written there first (0600). Call after config_finish().
 * Returns 0 with key filled (the caller wipes it), or a negative errno with err saying what
 * to do.
 */
__attribute__((warn_unused_result)) int
config_data_key_load(const struct config *c, unsigned char key[32], char *err, size_t errlen);

/*
 * Parse a listen address: "unix:/ABS/PATH", "IPv4:PORT" or "[IPv6]:PORT" (port 0 lets the
 * kernel choose). Fills sa/salen (for unix, sun_path). Returns 0 or -EINVAL.
 */
__attribute__((warn_unused_result)) int
config_parse_addr(const char *s, struct sockaddr_storage *sa, socklen_t *salen);

#endif
