/* main.c — the installation test's out-of-tree server (tests/install/run.sh):
 * oapigen's output for greet.yaml, these two handlers, and the installed
 * apikeyd-rt, built with `pkg-config --cflags --libs apikeyd-rt` only.
 *   greet PORT      serves /greet on 127.0.0.1:PORT until SIGTERM */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greet_api.h"

static int greet_say_hello(rt_ctx *ctx, const greet_say_hello_params *p, const json_t *body, void *app)
{
	char text[64];
	greet_Greeting g;

	(void)body;
	(void)app;
	snprintf(text, sizeof text, "hello, %s", p->name);
	g.greeting = text;
	g.greeting_len = strlen(text);
	return greet_say_hello_respond_200(ctx, &g);
}

static int greet_echo(rt_ctx *ctx, const greet_echo_params *p, const greet_Message *body, void *app)
{
	(void)p;
	(void)app;
	return greet_echo_respond_200(ctx, body);
}

int main(int argc, char **argv)
{
	static const greet_handlers handlers = { .say_hello = greet_say_hello, .echo = greet_echo };
	static const rt_api_config cfg = { .max_body = 0 };
	struct _u_instance u;
	sigset_t set;
	int sig, rc = 1;
	long port = argc == 2 ? strtol(argv[1], NULL, 10) : 0;

	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: greet PORT\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (ulfius_init_instance(&u, (unsigned)port, NULL, NULL) != U_OK) {
		fprintf(stderr, "greet: cannot initialise ulfius\n");
		return 1;
	}
	if (greet_register(&u, GREET_DEFAULT_BASE, &handlers, &cfg) != 0) {
		fprintf(stderr, "greet: cannot register the API\n");
		goto cleanup;
	}
	if (ulfius_start_framework(&u) != U_OK) {
		fprintf(stderr, "greet: cannot listen on port %ld\n", port);
		goto cleanup;
	}
	printf("greet: listening on %ld\n", port);
	fflush(stdout);
	sigwait(&set, &sig);
	ulfius_stop_framework(&u);
	rc = 0;
cleanup:
	ulfius_clean_instance(&u);
	rt_api_release_all();
	return rc;
}
