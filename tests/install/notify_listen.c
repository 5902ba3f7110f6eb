/* notify_listen — the systemd end of sd_notify for tests/install/run.sh:
 *   notify_listen SOCKET SECONDS
 * binds a datagram socket at the path SOCKET (for NOTIFY_SOCKET=SOCKET) and
 * prints each message received as one line, its newline-separated
 * assignments joined by spaces ("READY=1 STATUS=serving"), flushing each, until
 * it has heard nothing for SECONDS or gets STOPPING=1. Exit 0 after STOPPING=1,
 * 1 on a timeout, 2 on a usage or socket error. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa;
	char buf[4096];
	int fd = -1, bound = 0, rc = 2;
	long secs = argc == 3 ? strtol(argv[2], NULL, 10) : 0;

	if (argc != 3 || secs <= 0 || strlen(argv[1]) >= sizeof sa.sun_path) {
		fprintf(stderr, "usage: notify_listen SOCKET SECONDS (SOCKET shorter than %zu bytes)\n",
		        sizeof sa.sun_path);
		return 2;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, argv[1], strlen(argv[1]));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		fprintf(stderr, "notify_listen: %s: %s\n", argv[1], strerror(errno));
		goto cleanup;
	}
	bound = 1;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, (int)(secs * 1000));
		ssize_t len;
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) {
			fprintf(stderr, "notify_listen: nothing for %lds\n", secs);
			rc = 1;
			goto cleanup;
		}
		len = recv(fd, buf, sizeof buf - 1, 0);
		if (len < 0) {
			fprintf(stderr, "notify_listen: recv: %s\n", strerror(errno));
			goto cleanup;
		}
		buf[len] = '\0';
		for (char *c = buf; *c; c++)
			if (*c == '\n') *c = ' ';
		printf("%s\n", buf);
		fflush(stdout);
		if (strstr(buf, "STOPPING=1") != NULL) break;
	}
	rc = 0;
cleanup:
	if (fd >= 0) close(fd);
	if (bound) unlink(argv[1]);
	return rc;
}
