/* sink — a silent TCP listener on loopback that counts who connects.
 *
 *   sink COUNTFILE
 *
 * Binds 127.0.0.1 on a port the kernel picks, prints that port on stdout
 * (one line, then stdout is closed) and accepts connections until killed.
 * After every accept it rewrites COUNTFILE with the number of connections
 * accepted so far ("0" before the first). It never reads and never answers,
 * and keeps every connection open (up to 1024), so a client that waits for
 * a response (an HTTP GET, a TLS ClientHello) waits until its own timeout:
 * the listener an attacker would point a JWT's x5u or jku header at. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sink_write_count(const char *path, unsigned long n)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%lu\n", n);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof sa;
	unsigned long n = 0;
	int fd, one = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: sink COUNTFILE\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("sink: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
		perror("sink: bind/listen");
		return 1;
	}
	if (sink_write_count(argv[1], 0) != 0) {
		fprintf(stderr, "sink: cannot write %s\n", argv[1]);
		return 1;
	}
	printf("%u\n", (unsigned)ntohs(sa.sin_port));
	fclose(stdout);
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("sink: accept");
			return 1;
		}
		n++;
		if (n > 1024)
			close(c);   /* counted, not kept: bounded descriptors */
		sink_write_count(argv[1], n);
	}
}
