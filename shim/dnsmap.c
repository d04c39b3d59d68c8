/* SPDX-License-Identifier: Apache-2.0 */
/* The shared name map (see dnsmap.h). */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim/dnsmap.h"

struct slot {
    _Atomic uint32_t state; /* 0 free, 1 being written, 2 published */
    char name[DNSMAP_NAME_MAX + 2];
};

struct table {
    _Atomic uint32_t next;
    uint32_t pad;
    struct slot slots[DNSMAP_SLOTS];
};

static struct table *tab;

size_t dnsmap_size(void)
{
    return sizeof(struct table);
}

void dnsmap_use(void *mem)
{
    tab = mem;
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
    tab = m;
    return 0;
}

int dnsmap_is_placeholder(uint32_t addr)
{
    return (addr & 0xFFFE0000u) == DNSMAP_BASE;
}

static int same_name(const char *slot, const char *name)
{
    size_t i = 0;
    for (; name[i]; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (slot[i] != c)
            return 0;
    }
    return slot[i] == '\0';
}

uint32_t dnsmap_assign(const char *name)
{
    if (!tab || !name || !name[0] || strlen(name) > DNSMAP_NAME_MAX)
        return 0;
    uint32_t n = atomic_load_explicit(&tab->next, memory_order_acquire);
    if (n > DNSMAP_SLOTS)
        n = DNSMAP_SLOTS;
    for (uint32_t i = 0; i < n; i++)
        if (atomic_load_explicit(&tab->slots[i].state, memory_order_acquire) == 2 &&
            same_name(tab->slots[i].name, name))
            return DNSMAP_BASE + 1 + i;
    uint32_t i = atomic_fetch_add(&tab->next, 1);
    if (i >= DNSMAP_SLOTS)
        return 0;
    struct slot *s = &tab->slots[i];
    atomic_store(&s->state, 1);
    size_t k = 0;
    for (; name[k]; k++)
        s->name[k] = (name[k] >= 'A' && name[k] <= 'Z') ? (char)(name[k] - 'A' + 'a') : name[k];
    s->name[k] = '\0';
    atomic_store_explicit(&s->state, 2, memory_order_release);
    return DNSMAP_BASE + 1 + i;
}

const char *dnsmap_lookup(uint32_t addr)
{
    if (!tab || !dnsmap_is_placeholder(addr) || addr == DNSMAP_BASE)
        return NULL;
    uint32_t i = addr - DNSMAP_BASE - 1;
    if (i >= DNSMAP_SLOTS || atomic_load_explicit(&tab->slots[i].state, memory_order_acquire) != 2)
        return NULL;
    return tab->slots[i].name;
}
