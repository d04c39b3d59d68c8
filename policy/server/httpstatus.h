/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reason phrase of an HTTP status, one table for every answer cordond writes itself: the
 * decision path's refusals (decision.h) and the judged egress connections' (httpjudge.h).
 */
#ifndef CORDON_SERVER_HTTPSTATUS_H
#define CORDON_SERVER_HTTPSTATUS_H

/* "Forbidden" for 403; "Error" for a status it does not know. */
const char *http_status_text(unsigned status);

#endif
