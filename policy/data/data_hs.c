/* SPDX-License-Identifier: Apache-2.0 */
/* The vectorscan loader (see data_hs.h for why it is dlopen'ed). */
#include "policy/data/data_hs.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

static struct data_hs table;
static const char *load_error;

static void load_once(void)
{
    void *h = dlopen(CORDON_LIBHS, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        load_error = "cannot load vectorscan (" CORDON_LIBHS "); install the libvectorscan5 "
                     "package";
        return;
    }
    *(void **)&table.compile = dlsym(h, "hs_compile");
    *(void **)&table.compile_multi = dlsym(h, "hs_compile_multi");
    *(void **)&table.compile_lit_multi = dlsym(h, "hs_compile_lit_multi");
    *(void **)&table.expression_info = dlsym(h, "hs_expression_info");
    *(void **)&table.free_compile_error = dlsym(h, "hs_free_compile_error");
    *(void **)&table.free_database = dlsym(h, "hs_free_database");
    *(void **)&table.database_size = dlsym(h, "hs_database_size");
    *(void **)&table.alloc_scratch = dlsym(h, "hs_alloc_scratch");
    *(void **)&table.free_scratch = dlsym(h, "hs_free_scratch");
    *(void **)&table.scan = dlsym(h, "hs_scan");
    *(void **)&table.open_stream = dlsym(h, "hs_open_stream");
    *(void **)&table.scan_stream = dlsym(h, "hs_scan_stream");
    *(void **)&table.close_stream = dlsym(h, "hs_close_stream");
    void **f = (void **)&table;
    for (size_t i = 0; i < sizeof(table) / sizeof(void *); i++) {
        if (!f[i]) {
            load_error = "the vectorscan library (" CORDON_LIBHS ") lacks functions cordon "
                         "calls (hs_compile_multi, hs_scan_stream...); install the "
                         "libvectorscan5 package (5.4 or later)";
            return;
        }
    }
}

const struct data_hs *data_hs_load(const char **why)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, load_once);
    if (load_error) {
        if (why)
            *why = load_error;
        return NULL;
    }
    return &table;
}
