/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one part of diag.h that needs cJSON: the type of a JSON value as a message says it.
 * Kept apart so that cordon_base links only libc and libcordon.so can take all of it.
 */
#include "base/diag.h"

#include <cjson/cJSON.h>

const char *diag_json_type(const struct cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "an unknown value";
}
