/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy poller (see poll.h). Its lines go out with write(2), not stdio: in the shim the
 * thread runs inside the agent, whose stdio buffers and locks are the agent's own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/jbuf.h"
#include "shim/events.h"
#include "shim/poll.h"
#include "shim/root.h"

#define POLL_STACK (256 * 1024) /* the thread needs little, and lives in the agent */

static void say(const char *line, size_t n)
{
    ssize_t w = write(2, line, n);
    (void)w;
}

int poll_round(struct poll_job *job)
{
    struct root *r = job->root;
    char msg[256], err[512];
    msg[0] = err[0] = '\0';
    int rc = job->once(r, msg, sizeof msg, err, sizeof err);
    if (rc == 1) {
        if (!job->quiet) {
            size_t n = strnlen(msg, sizeof msg - 1);
            msg[n] = '\n';
            say(msg, n + 1);
            msg[n] = '\0';
        }
        /* an ETag with a quote is not one cordond sends: leave it out rather than cut it */
        char etag[81];
        size_t el = strchr(r->etag, '"') ? 0 : strnlen(r->etag, sizeof etag - 1);
        memcpy(etag, r->etag, el);
        etag[el] = '\0';
        char mem[160];
        struct jbuf b;
        jbuf_init(&b, mem, sizeof mem);
        jbuf_raw(&b, "{\"running\":");
        jbuf_u64(&b, r->stamp.version);
        jbuf_raw(&b, ",\"etag\":");
        jbuf_str(&b, etag, 0);
        jbuf_raw(&b, "}");
        events_emit("policy.stale", "log", b.overflow ? NULL : mem);
    } else if (rc < 0 && job->failed++ == 0 && !job->quiet) {
        char line[768];
        int n = snprintf(line, sizeof line,
                         "%s: policy poll failed: %s (will keep trying every %u s)\n", job->who,
                         err, r->policy->poll_seconds);
        if (n > 0)
            say(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
    return rc;
}

static void *poll_loop(void *arg)
{
    struct poll_job *job = arg;
    for (;;) {
        sleep(job->root->policy->poll_seconds);
        (void)poll_round(job);
    }
    return NULL;
}

int poll_start(struct poll_job *job)
{
    pthread_t t;
    pthread_attr_t a;
    int rc = pthread_attr_init(&a);
    if (rc != 0)
        return -rc;
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, POLL_STACK);
    rc = pthread_create(&t, &a, poll_loop, job);
    pthread_attr_destroy(&a);
    return -rc;
}
