/* SPDX-License-Identifier: Apache-2.0 */
/* The shared name map and the host a CONNECT request names (see dnsmap.h). */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim/dnsmap.h"

struct slot {
    _Atomic uint32_t state; /* 0 free, 1 being written, 2 published */
    char name[DNSMAP_NAME_MAX + 3];
};

struct table {
    _Atomic uint32_t next;
    uint32_t pad;
    struct slot slots[DNSMAP_SLOTS];
};

static struct table *_Atomic g_tab;
static const unsigned char prefix6[12] = DNSMAP_PREFIX6;

size_t dnsmap_size(void)
{
    return sizeof(struct table);
}

void dnsmap_use(void *mem)
{
    atomic_store(&g_tab, (struct table *)mem);
}

/* The table; a process that inherited none (its CORDON_DNS_FD was closed behind the hooks'
 * back) gets a private one, shared with its forks but not with what it executes. */
static struct table *table(void)
{
    struct table *t = atomic_load(&g_tab);
    if (t)
        return t;
    void *m =
        mmap(NULL, sizeof(struct table), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    struct table *none = NULL;
    if (!atomic_compare_exchange_strong(&g_tab, &none, (struct table *)m)) {
        munmap(m, sizeof(struct table)); /* another thread was first */
        return none;
    }
    return m;
}

int dnsmap_create(void)
{
    int fd = memfd_create("cordon-dnsmap", 0);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)sizeof(struct table)) != 0 || dnsmap_attach(fd) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int dnsmap_attach(int fd)
{
    void *m = mmap(NULL, sizeof(struct table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return -errno;
    atomic_store(&g_tab, (struct table *)m);
    return 0;
}

int dnsmap_is_placeholder(uint32_t addr)
{
    return (addr & 0xFFFE0000u) == DNSMAP_BASE;
}

int dnsmap_name_check(const char *name, char *out, size_t cap, const char **why)
{
    const char *w = NULL;
    size_t n = name ? strlen(name) : 0;
    if (n && name[n - 1] == '.')
        n--; /* "crm.internal." is the absolute form of "crm.internal" */
    if (n == 0) {
        w = "an empty host name";
        goto bad;
    }
    if (n > DNSMAP_NAME_MAX) {
        w = "a host name longer than 253 characters";
        goto bad;
    }
    if (cap < n + 1) {
        w = "a host name longer than this buffer";
        goto bad;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '.' && (i == 0 || name[i - 1] == '.' || i == n - 1)) {
            w = "a host name with an empty label";
            goto bad;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.')) {
            w = "a host name may hold only letters, digits, '-', '_' and '.' (write an "
                "international name in its ASCII xn-- form)";
            goto bad;
        }
        out[i] = c;
    }
    out[n] = '\0';
    return 0;
bad:
    if (why)
        *why = w;
    if (cap)
        out[0] = '\0';
    return -EINVAL;
}

int dnsmap_is_literal(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (!s)
        return 0;
    if (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1)
        return 1;
    const char *pct = strchr(s, '%'); /* fe80::1%eth0: a scoped IPv6 literal */
    char t[INET6_ADDRSTRLEN];
    if (!pct || pct == s || (size_t)(pct - s) >= sizeof t || !pct[1])
        return 0;
    memcpy(t, s, (size_t)(pct - s));
    t[pct - s] = '\0';
    return inet_pton(AF_INET6, t, buf) == 1;
}

uint32_t dnsmap_assign(const char *name)
{
    char low[DNSMAP_NAME_MAX + 1];
    struct table *tab = table();
    if (!tab || dnsmap_name_check(name, low, sizeof low, NULL) != 0)
        return 0;
    uint32_t n = atomic_load_explicit(&tab->next, memory_order_acquire);
    if (n > DNSMAP_SLOTS)
        n = DNSMAP_SLOTS;
    for (uint32_t i = 0; i < n; i++)
        if (atomic_load_explicit(&tab->slots[i].state, memory_order_acquire) == 2 &&
            strcmp(tab->slots[i].name, low) == 0)
            return DNSMAP_BASE + 1 + i;
    if (atomic_load_explicit(&tab->next, memory_order_relaxed) >= DNSMAP_SLOTS)
        return 0; /* full: do not count further, so the counter cannot wrap */
    uint32_t i = atomic_fetch_add(&tab->next, 1);
    if (i >= DNSMAP_SLOTS)
        return 0;
    struct slot *s = &tab->slots[i];
    atomic_store(&s->state, 1);
    memcpy(s->name, low, strlen(low) + 1);
    atomic_store_explicit(&s->state, 2, memory_order_release);
    return DNSMAP_BASE + 1 + i;
}

int dnsmap_full(void)
{
    struct table *t = atomic_load(&g_tab);
    return t && atomic_load_explicit(&t->next, memory_order_relaxed) >= DNSMAP_SLOTS;
}

const char *dnsmap_lookup(uint32_t addr)
{
    struct table *tab = atomic_load(&g_tab);
    if (!tab || !dnsmap_is_placeholder(addr) || addr == DNSMAP_BASE)
        return NULL;
    uint32_t i = addr - DNSMAP_BASE - 1;
    if (i >= DNSMAP_SLOTS || atomic_load_explicit(&tab->slots[i].state, memory_order_acquire) != 2)
        return NULL;
    return tab->slots[i].name;
}

void dnsmap_addr6(uint32_t addr, struct in6_addr *out)
{
    uint32_t be = htonl(addr);
    memcpy(out->s6_addr, prefix6, 12);
    memcpy(&out->s6_addr[12], &be, 4);
}

const char *dnsmap_lookup_sa(const struct sockaddr *sa, socklen_t len)
{
    if (!sa || len < sizeof(sa_family_t))
        return NULL;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
        return dnsmap_lookup(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6 || len < sizeof(struct sockaddr_in6))
        return NULL;
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!IN6_IS_ADDR_V4MAPPED(a6) && memcmp(a6->s6_addr, prefix6, 12) != 0)
        return NULL;
    uint32_t v;
    memcpy(&v, &a6->s6_addr[12], 4);
    return dnsmap_lookup(ntohl(v));
}

int dnsmap_target(const struct sockaddr *sa, socklen_t len, char *host, size_t hl, uint16_t *port,
                  int *named, uint32_t *v4)
{
    *named = 0;
    *v4 = 0;
    if (!sa || len < sizeof(sa_family_t) || hl < INET6_ADDRSTRLEN + 2)
        return -EINVAL;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
        *port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
    else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
        *port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    else
        return -EINVAL;
    const char *name = dnsmap_lookup_sa(sa, len);
    if (name) {
        /* The map is shared with every process of the tree: check the name again. */
        if (dnsmap_name_check(name, host, hl, NULL) != 0)
            return -EINVAL;
        *named = 1;
        return 0;
    }
    struct in_addr a4;
    if (sa->sa_family == AF_INET) {
        a4 = ((const struct sockaddr_in *)sa)->sin_addr;
    } else {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (!IN6_IS_ADDR_V4MAPPED(a6)) {
            host[0] = '[';
            if (!inet_ntop(AF_INET6, a6, host + 1, (socklen_t)(hl - 2)))
                return -EINVAL;
            size_t n = strlen(host);
            host[n] = ']';
            host[n + 1] = '\0';
            return 0;
        }
        memcpy(&a4, &a6->s6_addr[12], 4); /* ::ffff:a.b.c.d is the IPv4 a.b.c.d */
    }
    *v4 = ntohl(a4.s_addr);
    return inet_ntop(AF_INET, &a4, host, (socklen_t)hl) ? 0 : -EINVAL;
}
