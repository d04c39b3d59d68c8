/* SPDX-License-Identifier: Apache-2.0 */
/* The reason phrases cordond answers with (see httpstatus.h). */
#include "policy/server/httpstatus.h"

#include <stddef.h>

const char *http_status_text(unsigned status)
{
    static const struct {
        unsigned status;
        const char *text;
    } t[] = {{200, "OK"},
             {400, "Bad Request"},
             {401, "Unauthorized"},
             {403, "Forbidden"},
             {404, "Not Found"},
             {405, "Method Not Allowed"},
             {407, "Proxy Authentication Required"},
             {408, "Request Timeout"},
             {413, "Content Too Large"},
             {414, "URI Too Long"},
             {421, "Misdirected Request"},
             {422, "Unprocessable Content"},
             {429, "Too Many Requests"},
             {431, "Request Header Fields Too Large"},
             {500, "Internal Server Error"},
             {501, "Not Implemented"},
             {502, "Bad Gateway"},
             {503, "Service Unavailable"},
             {505, "HTTP Version Not Supported"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].status == status)
            return t[i].text;
    return "Error";
}
