/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the audit writer's check of a record's fields (audit_fields_canonical),
 * against the parse and print it stands in for. Fields the check calls canonical go into the
 * line as they stand, so for every input it accepts, audit_fields_parse must accept it too
 * and cJSON must print it back byte for byte; otherwise a caller could get a line written
 * that the full check would have refused or written differently.
 */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/audit/audit_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    if (!audit_fields_canonical(text, size))
        return 0;
    cJSON *o = NULL;
    if (audit_fields_parse(text, size, &o) != 0)
        __builtin_trap();
    char *p = cJSON_PrintUnformatted(o);
    if (!p || strlen(p) != size || memcmp(p, text, size) != 0)
        __builtin_trap();
    free(p);
    cJSON_Delete(o);
    return 0;
}
