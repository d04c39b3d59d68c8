/* SPDX-License-Identifier: Apache-2.0 */
/*
 * canary_watch: proof that an attack never touched the canaries. It puts inotify watches on
 * the canary files and directories, prints "ready" once they are in place, and on SIGTERM
 * prints how many events it saw and what they were.
 *
 * Why inotify proves it: fsnotify reports IN_OPEN and IN_ACCESS only after an open or read
 * has succeeded, and IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE, IN_MOVE_SELF and IN_DELETE_SELF
 * only after the change was made. An open that Landlock refuses never reaches the point where
 * an event is generated. Zero events during an attack means the canary was neither read nor
 * changed, whatever the attack printed and whichever path, link or handle it went through.
 *
 *     canary_watch F:FILE... D:DIR... A:DIR...
 *
 * F: a canary file: every access, change, move or deletion counts.
 * D: a canary directory: entries created, deleted or moved in it count, and so does any
 *    change to the directory itself. Listing it (an open and read of the directory) is
 *    reported separately as "listed": the policy may allow names to be seen.
 * A: an ancestor of the canaries: only its own move or deletion counts.
 *
 * Output on SIGTERM: "events N listed M", then one line per counted event. Exits by itself
 * after ten minutes so that a runner that died cannot leave it behind.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>

#define MAX_WATCHES 64
#define MAX_LOGGED 64
#define LIFETIME_MS (600 * 1000)

enum kind { K_FILE, K_DIR, K_ANCESTOR };

struct watch {
    int wd;
    enum kind kind;
    const char *path;
};

static struct watch watches[MAX_WATCHES];
static size_t n_watches;
static unsigned long counted, listed;
static char logged[MAX_LOGGED][512];
static size_t n_logged;

static const uint32_t file_mask =
    IN_OPEN | IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVE_SELF | IN_DELETE_SELF;
static const uint32_t dir_mask = IN_OPEN | IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE |
                                 IN_MOVE_SELF | IN_DELETE_SELF | IN_CREATE | IN_DELETE |
                                 IN_MOVED_FROM | IN_MOVED_TO;
static const uint32_t ancestor_mask = IN_MOVE_SELF | IN_DELETE_SELF;

static const struct watch *find(int wd)
{
    for (size_t i = 0; i < n_watches; i++)
        if (watches[i].wd == wd)
            return &watches[i];
    return NULL;
}

static void mask_names(uint32_t m, char *buf, size_t len)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {IN_ACCESS, "ACCESS"},
        {IN_MODIFY, "MODIFY"},
        {IN_ATTRIB, "ATTRIB"},
        {IN_CLOSE_WRITE, "CLOSE_WRITE"},
        {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
        {IN_OPEN, "OPEN"},
        {IN_MOVED_FROM, "MOVED_FROM"},
        {IN_MOVED_TO, "MOVED_TO"},
        {IN_CREATE, "CREATE"},
        {IN_DELETE, "DELETE"},
        {IN_DELETE_SELF, "DELETE_SELF"},
        {IN_MOVE_SELF, "MOVE_SELF"},
        {IN_ISDIR, "ISDIR"},
        {IN_IGNORED, "IGNORED"},
        {IN_Q_OVERFLOW, "Q_OVERFLOW"},
    };
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((m & names[i].bit) && o < len)
            o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "|" : "", names[i].name);
}

static void record(const struct inotify_event *ev)
{
    const struct watch *w = find(ev->wd);
    /* A queue overflow means events were lost: count it, it cannot be shown harmless. */
    int overflow = (ev->mask & IN_Q_OVERFLOW) != 0;
    if (!overflow && (!w || (ev->mask & IN_IGNORED)))
        return;
    /* Reading a canary directory's own entries (ls) is not an access to a canary. */
    const uint32_t listing = IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE | IN_ISDIR;
    if (!overflow && w->kind == K_DIR && ev->len == 0 && (ev->mask & IN_ISDIR) &&
        !(ev->mask & ~listing)) {
        listed++;
        return;
    }
    counted++;
    if (n_logged < MAX_LOGGED) {
        char m[160];
        mask_names(ev->mask, m, sizeof m);
        snprintf(logged[n_logged++], sizeof logged[0], "event %s %s%s%s",
                 overflow ? "(queue)" : w->path, m, ev->len ? " name=" : "",
                 ev->len ? ev->name : "");
    }
}

static void drain(int fd)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            record(ev);
            p += sizeof *ev + ev->len;
        }
    }
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc < 2) {
        fprintf(stderr, "usage: canary_watch F:FILE|D:DIR|A:DIR...\n");
        return 2;
    }
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (in < 0) {
        fprintf(stderr, "canary_watch: inotify_init1: %s\n", strerror(errno));
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (n_watches == MAX_WATCHES || strlen(a) < 3 || a[1] != ':' || !strchr("FDA", a[0])) {
            fprintf(stderr, "canary_watch: bad argument \"%s\" (want F:, D: or A:PATH)\n", a);
            goto out;
        }
        enum kind k = a[0] == 'F' ? K_FILE : a[0] == 'D' ? K_DIR : K_ANCESTOR;
        uint32_t m = k == K_FILE ? file_mask : k == K_DIR ? dir_mask : ancestor_mask;
        int wd = inotify_add_watch(in, a + 2, m);
        if (wd < 0) {
            fprintf(stderr, "canary_watch: cannot watch %s: %s\n", a + 2, strerror(errno));
            goto out;
        }
        watches[n_watches++] = (struct watch){.wd = wd, .kind = k, .path = a + 2};
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        fprintf(stderr, "canary_watch: signalfd: %s\n", strerror(errno));
        goto out;
    }
    printf("ready\n");
    fflush(stdout);

    for (int waited = 0; waited < LIFETIME_MS;) {
        struct pollfd p[2] = {{.fd = in, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        int n = poll(p, 2, 1000);
        if (n == 0)
            waited += 1000;
        if (n < 0 && errno != EINTR)
            break;
        if (p[0].revents & POLLIN)
            drain(in);
        if (p[1].revents & POLLIN)
            break;
    }
    /* whatever the attack did happened before the runner sent SIGTERM: take the rest */
    drain(in);
    printf("events %lu listed %lu\n", counted, listed);
    for (size_t i = 0; i < n_logged; i++)
        printf("%s\n", logged[i]);
    rc = 0;
out:
    close(in);
    return rc;
}
