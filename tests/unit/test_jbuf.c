/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON text writer: what it writes is valid JSON whatever the strings hold, and a text
 * that did not fit is marked, never cut into something that parses. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "base/jbuf.h"

Test(jbuf, writes_an_object_that_parses_back)
{
    char mem[256];
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    jbuf_raw(&b, "{\"s\":");
    jbuf_str(&b, "a\"b\\c\n\x01\x7f", 0);
    jbuf_raw(&b, ",\"u\":");
    jbuf_u64(&b, UINT64_MAX);
    jbuf_raw(&b, ",\"i\":");
    jbuf_i64(&b, INT64_MIN);
    jbuf_raw(&b, "}");
    cr_assert_eq(b.overflow, 0);
    cr_assert_str_eq(mem, "{\"s\":\"a\\\"b\\\\c\\u000a\\u0001\\u007f\",\"u\":18446744073709551615,"
                          "\"i\":-9223372036854775808}");
    cJSON *o = cJSON_Parse(mem);
    cr_assert_not_null(o);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "s")->valuestring, "a\"b\\c\n\x01\x7f");
    cJSON_Delete(o);
}

Test(jbuf, a_string_is_cut_at_max_with_dots)
{
    char mem[64];
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    jbuf_str(&b, "abcdefgh", 3);
    cr_assert_str_eq(mem, "\"abc...\"");
    jbuf_init(&b, mem, sizeof mem);
    jbuf_str(&b, NULL, 0);
    cr_assert_str_eq(mem, "\"\"");
}

Test(jbuf, overflow_is_remembered_and_nothing_follows_it)
{
    char mem[8];
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    jbuf_raw(&b, "{\"k\":");
    jbuf_str(&b, "long value", 0);
    cr_assert_eq(b.overflow, 1);
    size_t at = b.len;
    jbuf_raw(&b, "}"); /* would fit, but every write after an overflow is refused */
    cr_assert_eq(b.len, at);
    cr_assert_lt(b.len, sizeof mem);
    cr_assert_eq(mem[b.len], '\0');
    cr_assert_null(strchr(mem, '}'));
}

Test(jbuf, keys_put_their_commas_and_an_object_parses_back)
{
    char mem[256];
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    jbuf_raw(&b, "{");
    jbuf_key(&b, "a\"");
    jbuf_bool(&b, 1);
    jbuf_key(&b, "list");
    jbuf_raw(&b, "[");
    jbuf_u64(&b, 1);
    jbuf_raw(&b, "]");
    jbuf_key(&b, "no");
    jbuf_bool(&b, 0);
    jbuf_raw(&b, "}");
    cr_assert_eq(b.overflow, 0);
    cr_assert_str_eq(mem, "{\"a\\\"\":true,\"list\":[1],\"no\":false}");
    cJSON *o = cJSON_Parse(mem);
    cr_assert_not_null(o);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "a\"")));
    cJSON_Delete(o);
}
