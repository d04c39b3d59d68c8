/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cordond's shared parts (policy/server/server.c, decision.c) with a real audit log and the
 * real HTTP front on loopback: an invalid record is a counted bug that leaves /healthz at 200,
 * a log that cannot record turns it to 503, and the decision path refuses an action whose
 * record cannot be written.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/audit/audit.h"
#include "policy/server/http.h"
#include "policy/server/server.h"
#include "support.h"

static char base[64], logdir[128], keypath[128];
static struct srv S;
static struct http *H;
static unsigned short port;

static void setup(void)
{
    snprintf(base, sizeof base, "/tmp/cordon-server-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(logdir, sizeof logdir, "%s/log", base);
    snprintf(keypath, sizeof keypath, "%s/test.key", base);
    size_t len;
    char *text = read_file(CORDON_TEST_DATA "/dsse/test.key", &len);
    int fd = open(keypath, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    free(text);
    memset(&S, 0, sizeof S);
    config_defaults(&S.cfg);
    pthread_rwlock_init(&S.audit_lock, NULL);
    pthread_mutex_init(&S.tunnel_lock, NULL);
    char err[512];
    struct audit_config ac = {.dir = logdir,
                              .key_path = keypath,
                              .origin = "cordon.test/server",
                              .fsync = AUDIT_FSYNC_NONE};
    cr_assert_eq(audit_open(&ac, &S.audit, err, sizeof err), AUDIT_OK, "%s", err);
    /* the HTTP front on a loopback port the kernel chooses */
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(lfd, 16), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    port = ntohs(sa.sin_port);
    cr_assert_eq(http_start(&S, &lfd, 1, -1, &H, err, sizeof err), 0, "%s", err);
}

static void teardown(void)
{
    http_stop(H);
    if (S.audit)
        (void)audit_close(S.audit);
    remove_tree(base);
}

/* GET path on the test server; returns the status, the body in body. */
static int get(const char *path, char *body, size_t bodylen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: test\r\n\r\n", path);
    cr_assert_eq(write(fd, req, (size_t)n), n);
    char resp[8192];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof resp - 1 && (r = read(fd, resp + len, sizeof resp - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    resp[len] = '\0';
    int status = 0;
    cr_assert_eq(sscanf(resp, "HTTP/1.%*d %d", &status), 1, "no status line: %s", resp);
    const char *b = strstr(resp, "\r\n\r\n");
    snprintf(body, bodylen, "%s", b ? b + 4 : "");
    return status;
}

TestSuite(server, .init = setup, .fini = teardown);

Test(server, an_invalid_record_is_counted_and_the_server_stays_healthy)
{
    char body[1024];
    cr_assert_eq(get("/healthz", body, sizeof body), 200);
    cr_assert_eq(srv_audit(&S, "test.bad", NULL, "[\"not an object\"]", 0), SRV_AUDIT_INVALID);
    cr_assert_eq(srv_audit(&S, "test.bad", NULL, "{\"seq\":1}", 1), SRV_AUDIT_INVALID);
    char big[64];
    struct jbuf b;
    jbuf_init(&b, big, sizeof big);
    jbuf_raw(&b, "{");
    jbuf_key(&b, "text");
    jbuf_str(&b, "a record that does not fit the buffer it was written into", 0);
    jbuf_raw(&b, "}");
    cr_assert_eq(srv_audit_jbuf(&S, "test.bad", NULL, &b, 0), SRV_AUDIT_INVALID);
    cr_assert_eq(S.m.audit_invalid, 3);
    cr_assert_eq(srv_healthy(&S), 1);
    cr_assert_eq(get("/healthz", body, sizeof body), 200, "%s", body);
    cr_assert(strstr(body, "\"status\":\"ok\""));
    /* the log is sound: the next record is written */
    cr_assert_eq(srv_audit(&S, "test.good", "web", "{\"n\":1}", 1), 0);
}

Test(server, a_log_that_cannot_record_fails_closed)
{
    char body[1024];
    pthread_rwlock_wrlock(&S.audit_lock);
    cr_assert_eq(audit_close(S.audit), AUDIT_OK);
    S.audit = NULL; /* what cordond sees once its writer is gone */
    pthread_rwlock_unlock(&S.audit_lock);
    cr_assert_eq(srv_audit(&S, "test.good", NULL, "{}", 0), SRV_AUDIT_FAILED);
    cr_assert_eq(srv_healthy(&S), 0);
    cr_assert_eq(S.m.audit_invalid, 0);
    cr_assert_eq(get("/healthz", body, sizeof body), 503);
    cr_assert(strstr(body, "\"cordon.audit_failed\""), "%s", body);
}

Test(server, an_action_that_cannot_be_recorded_is_refused)
{
    struct decision d;
    decision_init(&d, DECISION_POLICY_FETCH, "policy.fetch");
    d.fields.overflow = 1; /* a record that did not fit: invalid, a bug of the handler */
    d.audit_flags = DECISION_AUDIT_REQUIRED;
    cr_assert_eq(srv_decide(&S, &d), DECISION_ERROR);
    cr_assert_eq(d.status, 500);
    cr_assert_eq(S.m.decisions[DECISION_POLICY_FETCH][DECISION_ERROR], 1);
    cr_assert_eq(S.m.audit_invalid, 1);
    cJSON *o = cJSON_ParseWithLength(d.body, d.body_len);
    cr_assert_not_null(o, "%.*s", (int)d.body_len, d.body);
    cJSON *code = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "error"), "code");
    cr_assert_str_eq(cJSON_GetStringValue(code), "cordon.audit_invalid");
    cJSON_Delete(o);
    decision_done(&d);
    cr_assert_eq(srv_healthy(&S), 1);
}

Test(server, a_refusal_escapes_what_the_caller_sent)
{
    struct decision d;
    decision_init(&d, DECISION_TUNNEL, "tunnel.deny");
    d.reply = DECISION_REPLY_JSON;
    decision_refuse(&d, 403, "denied", "sandbox.network.allow", "host \"%s\" refused",
                    "x\",\"evil\":\"1\n");
    jbuf_key(&d.fields, "host");
    jbuf_str(&d.fields, "x\",\"evil\":\"1", 0);
    cr_assert_eq(srv_decide(&S, &d), DECISION_DENY);
    cr_assert_eq(d.audit_rc, 0);
    cJSON *o = cJSON_ParseWithLength(d.body, d.body_len);
    cr_assert_not_null(o);
    cJSON *e = cJSON_GetObjectItem(o, "error");
    cr_assert_null(cJSON_GetObjectItem(e, "evil"));
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "message")),
                     "host \"x\",\"evil\":\"1\n\" refused");
    cJSON_Delete(o);
    decision_done(&d);
    cr_assert_eq(S.m.decisions[DECISION_TUNNEL][DECISION_DENY], 1);
    /* the plain form: a whole HTTP response whose length is the body's */
    decision_init(&d, DECISION_TUNNEL, NULL);
    d.reply = DECISION_REPLY_PLAIN;
    decision_refuse(&d, 407, NULL, NULL, "no key");
    cr_assert_eq(srv_decide(&S, &d), DECISION_DENY);
    cr_assert_str_eq(d.body, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Type: "
                             "text/plain\r\nContent-Length: 15\r\nProxy-Authenticate: Basic "
                             "realm=\"cordon\"\r\nConnection: close\r\n\r\ncordon: no key\n");
    decision_done(&d);
}
