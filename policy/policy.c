/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every user of a compiled policy shares: the built-in lists (data classes, the
 * credential deny set, the host's own secrets, the exec search path), the variables a policy
 * is expanded with in this process, and the judgement of a path against the grants. The
 * document itself is read by policy_load.c and the walk it drives (policy_walk.h).
 */
#include "base/glob.h"
#include "policy/data/data_names.h"
#include "policy/policy.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The same names, in the same order, as policy/data's data_builtin_classes. */
const char *const policy_data_classes[] = {DATA_BUILTIN_NAMES, NULL};

/* docs/POLICY.md, "The credential deny set", says what each entry holds. The first 14 are the
 * original set, in their original order. */
const char *const policy_credential_paths[] = {
    /* keys, clouds and clusters */
    "~/.ssh",
    "~/.gnupg",
    "~/.aws",
    "~/.azure",
    "~/.config/gcloud",
    "~/.kube",
    "~/.docker",
    "~/.git-credentials",
    "~/.netrc",
    "~/.npmrc",
    "~/.pypirc",
    "~/.vault-token",
    "~/.terraform.d",
    "~/.config/gh",
    "~/.config/hub",
    "~/.config/glab-cli",
    "~/.config/git/credentials",
    "~/.oci",
    "~/.config/doctl",
    "~/.config/hcloud",
    "~/.config/netlify",
    "~/.terraformrc",
    "~/.s3cfg",
    "~/.boto",
    "~/.config/rclone",
    "~/.config/containers/auth.json",
    "~/.config/sops",
    "~/.huggingface",
    "~/.cache/huggingface/token",
    "~/.kaggle",
    /* package registries */
    "~/.yarnrc",
    "~/.yarnrc.yml",
    "~/.gem/credentials",
    "~/.cargo/credentials",
    "~/.cargo/credentials.toml",
    "~/.composer/auth.json",
    "~/.config/composer/auth.json",
    "~/.m2/settings-security.xml",
    /* databases */
    "~/.pgpass",
    "~/.my.cnf",
    "~/.mylogin.cnf",
    /* password stores and keyrings */
    "~/.password-store",
    "~/.local/share/keyrings",
    "~/.local/share/kwalletd",
    "~/.local/share/python_keyring",
    "~/.config/op",
    "~/.pki",
    /* browser and mail profiles */
    "~/.mozilla",
    "~/.thunderbird",
    "~/.config/google-chrome",
    "~/.config/chromium",
    "~/.config/BraveSoftware",
    "~/.config/microsoft-edge",
    "~/.config/vivaldi",
    "~/.config/opera",
    /* shell and REPL histories */
    "~/.bash_history",
    "~/.zsh_history",
    "~/.histfile",
    "~/.sh_history",
    "~/.local/share/fish/fish_history",
    "~/.python_history",
    "~/.node_repl_history",
    "~/.psql_history",
    "~/.mysql_history",
    "~/.sqlite_history",
    "~/.irb_history",
    "~/.rediscli_history",
    "~/.lesshst",
    "~/.wget-hsts",
    "~/.viminfo",
    NULL,
};

const char *const policy_host_paths[] = {
    "/etc/cordon", "/var/lib/cordond", "/run/cordond", "~/.local/state/cordon", NULL,
};

/* Credentials by the names their tools read; the globs catch the conventions (FOO_API_KEY,
 * FOO_TOKEN, FOO_SECRET_KEY, FOO_PASSWORD). docs/POLICY.md "sandbox.env" lists them. */
const char *const policy_env_hide_default[] = {
    /* clouds */
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    /* the conventions */
    "*_API_KEY",
    "*_APIKEY",
    "*_ACCESS_KEY*",
    "*_PRIVATE_KEY*",
    "*_TOKEN",
    "*_SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*_CREDENTIALS",
    /* connection strings that carry a password */
    "DATABASE_URL",
    "*_DATABASE_URL",
    "*_CONNECTION_STRING",
    /* agents that sign or decrypt for whoever reaches their socket */
    "SSH_AUTH_SOCK",
    "GPG_AGENT_INFO",
    NULL,
};

/* A variable's name: the part of its environment string before the first '='. */
static size_t env_name_len(const char *entry)
{
    size_t n = 0;
    while (entry[n] && entry[n] != '=')
        n++;
    return n;
}

static const char *env_match(const struct policy_list *l, const char *name, size_t n)
{
    for (size_t i = 0; i < l->n; i++)
        if (glob_match_fold(l->v[i], name, n))
            return l->v[i];
    return NULL;
}

int policy_env_hides(const struct policy *p, const char *entry, struct policy_env_verdict *v)
{
    struct policy_env_verdict tmp;
    if (!v)
        v = &tmp;
    memset(v, 0, sizeof *v);
    size_t n = env_name_len(entry);
    if ((n >= 7 && strncmp(entry, "CORDON_", 7) == 0) ||
        (n == 10 && strncmp(entry, "LD_PRELOAD", 10) == 0))
        return 0;
    v->hide = env_match(&p->sandbox.env.hide, entry, n);
    if (!v->hide && p->sandbox.env.hide_credentials) {
        size_t nd = 0;
        while (policy_env_hide_default[nd])
            nd++;
        const struct policy_list def = {nd, policy_env_hide_default};
        v->hide = env_match(&def, entry, n);
        v->is_default = v->hide != NULL;
    }
    v->allow = env_match(&p->sandbox.env.allow, entry, n);
    return v->hide && !v->allow;
}

/* Where the usual installers put interpreters and tools under HOME: version managers (pyenv,
 * conda and its minimal installers, uv, pipx, rustup and cargo, nvm, volta, fnm, bun), go's
 * installed programs, and ~/.local/bin (pip --user, pipx and uv tool links). */
static const char *const home_toolchains[] = {
    "~/.pyenv",     "~/.conda",    "~/miniconda3",
    "~/miniforge3", "~/anaconda3", "~/.local/share/uv",
    "~/.cargo/bin", "~/.rustup",   "~/.local/pipx",
    "~/.nvm",       "~/.volta",    "~/.local/share/fnm",
    "~/.fnm",       "~/.bun",      "~/go/bin",
    "~/.local/bin", NULL,
};

const struct policy_preset policy_presets[] = {
    {"home-toolchains", home_toolchains},
    {NULL, NULL},
};

void policy_preset_names(char *out, size_t len)
{
    size_t n = 0;
    if (!len)
        return;
    out[0] = '\0';
    for (size_t i = 0; policy_presets[i].name; i++) {
        int w = snprintf(out + n, len - n, "%s\"%s\"", i ? ", " : "", policy_presets[i].name);
        if (w < 0 || (size_t)w >= len - n)
            return;
        n += (size_t)w;
    }
}

const struct policy_preset *policy_preset_covering(const char *home, const char *path,
                                                   const char **dir)
{
    if (!home || home[0] != '/' || !path)
        return NULL;
    for (size_t i = 0; policy_presets[i].name; i++)
        for (const char *const *d = policy_presets[i].paths; *d; d++) {
            char full[PATH_MAXLEN];
            size_t hl = strlen(home);
            while (hl > 0 && home[hl - 1] == '/')
                hl--;
            if ((size_t)snprintf(full, sizeof full, "%.*s%s", (int)hl, home, *d + 1) >= sizeof full)
                continue;
            if (path_within(path, full)) {
                if (dir)
                    *dir = *d;
                return &policy_presets[i];
            }
        }
    return NULL;
}

const char *const policy_exec_search_default[] = {
    "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL,
};

const char *const policy_exec_system_dirs[] = {
    "/usr/lib", "/usr/libexec", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32", NULL,
};

static int copy_abs(char dst[PATH_MAXLEN], const char *src)
{
    if (!src || src[0] != '/' || strlen(src) >= PATH_MAXLEN)
        return -EINVAL;
    memcpy(dst, src, strlen(src) + 1);
    return path_normalize(dst) == PATH_OK ? 0 : -EINVAL;
}

int policy_env_from_process(struct policy_env *env, struct policy_env_storage *st,
                            const char *workspace)
{
    memset(env, 0, sizeof *env);
    env->resolve_symlinks = 1;
    /* HOME first, as a shell would; the passwd entry when HOME is unset or unusable */
    const char *home = getenv("HOME");
    if (home && copy_abs(st->home, home) == 0) {
        env->vars.home = st->home;
    } else {
        struct passwd *pw = getpwuid(getuid());
        if (pw && copy_abs(st->home, pw->pw_dir) == 0)
            env->vars.home = st->home;
    }
    if (getcwd(st->cwd, sizeof st->cwd))
        env->vars.cwd = st->cwd;
    const char *xdg = getenv("XDG_STATE_HOME");
    if (xdg && copy_abs(st->state, xdg) == 0)
        env->state_home = st->state;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || copy_abs(st->tmp, tmp) != 0) {
        if (copy_abs(st->tmp, "/tmp") != 0)
            return -EINVAL;
    }
    env->vars.tmp = st->tmp;
    if (workspace) {
        char real[PATH_MAXLEN];
        int rc = path_resolve(workspace, real);
        if (rc != 0)
            return rc;
        memcpy(st->workspace, real, strlen(real) + 1);
        env->vars.workspace = st->workspace;
    } else if (env->vars.cwd) {
        memcpy(st->workspace, st->cwd, strlen(st->cwd) + 1);
        env->vars.workspace = st->workspace;
    }
    return 0;
}

const struct policy_path *policy_grant_covering(const struct policy *p, const char *path,
                                                int write_only, char canon[PATH_MAXLEN], int *rc)
{
    const struct policy_paths *lists[] = {&p->sandbox.fs.read_write, &p->sandbox.fs.read_only};
    if ((*rc = path_canonical(path, canon)) != 0)
        return NULL;
    for (size_t l = 0; l < (write_only ? 1u : 2u); l++)
        for (size_t i = 0; i < lists[l]->n; i++) {
            const struct policy_path *g = &lists[l]->v[i];
            char gc[PATH_MAXLEN];
            /* a grant is added by the kernel through its resolved path; one that does not
             * exist now may by the time the sandbox is built, so its folded name counts */
            if (path_canonical(g->path, gc) != 0)
                snprintf(gc, sizeof gc, "%s", g->real ? g->real : g->path);
            if (path_within(canon, gc) || path_within(canon, g->path) ||
                (g->real && path_within(canon, g->real)))
                return g;
        }
    return NULL;
}

int policy_check_policy_file(const struct policy *p, const char *path, char *err, size_t errlen)
{
    char canon[PATH_MAXLEN];
    int rc;
    const struct policy_path *g = policy_grant_covering(p, path, 1, canon, &rc);
    if (rc != 0) {
        diag_set(err, errlen,
                 "the policy file %s cannot be resolved (%s), so it cannot be "
                 "judged against the agent's grants",
                 path, strerror(-rc));
        return rc;
    }
    if (!g)
        return 0;
    int differs = strcmp(path, canon) != 0;
    diag_set(err, errlen,
             "the policy file %s%s%s%s lies inside the agent's read_write grant "
             "%s (%s): the agent could rewrite the policy that governs its next "
             "run; keep the policy file where the sandbox cannot write (outside the "
             "workspace, ${tmp} and every read_write path)",
             path, differs ? ", which resolves to " : "", differs ? canon : "", differs ? "," : "",
             g->raw, g->real ? g->real : g->path);
    return -EPERM;
}
