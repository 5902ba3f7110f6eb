/* log_test.h: what tests/logs' C tests share: their tally and an access
 * line of theirs (GET /healthz 200 from 127.0.0.1, request id rid). */
#ifndef LOG_TEST_H
#define LOG_TEST_H
#include <stdio.h>
#include <netinet/in.h>

#include "log.h"

static int passed, failed;

static void check(const char *what, int ok)
{
	printf("%s  %s\n", ok ? "ok  " : "FAIL", what);
	if (ok) passed++;
	else failed++;
}

static struct sockaddr_in client = { .sin_family = AF_INET, .sin_addr = { .s_addr = 0x0100007f } };

static void line(const char *rid, int more)
{
	log_request r = { .method = "GET", .path = "/healthz", .status = 200, .ms = 0.5,
	                  .client = (const struct sockaddr *)&client, .key_id = -1, .user_id = -1,
	                  .request_id = rid, .api = "apikeyd", .operation = "healthz", .more = more };
	log_access(&r);
}

#endif
