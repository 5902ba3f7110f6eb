/* dgram_sink: a Unix datagram socket standing in for syslog's /dev/log or
 * the journal's socket, for tests/logs/run.sh.
 *
 *   dgram_sink [--stream] PATH OUT [HOLD]
 *
 * Binds PATH (a file left there is removed first) and appends each datagram
 * it reads to OUT as one line, its newlines written as '|' (a journal
 * record's fields then read as FIELD=value|FIELD=value|). While the file
 * HOLD exists it reads nothing, as a daemon that has stopped reading: the
 * socket's queue fills and a sender that waits for it waits for ever.
 * --stream: a stream socket that listens and reads nothing (syslog-ng's
 * unix-stream(), which apikeyd refuses at start). Prints "ready" once
 * bound. SIGTERM or SIGINT: PATH removed, exit 0. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct sigaction act = { .sa_handler = on_signal };
    static char buf[1 << 16];
    FILE *out;
    int fd, stream = argc > 1 && strcmp(argv[1], "--stream") == 0;

    if (stream) {
        argv++;
        argc--;
    }
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: dgram_sink [--stream] PATH OUT [HOLD]\n");
        return 2;
    }
    if (strlen(argv[1]) >= sizeof sa.sun_path) {
        fprintf(stderr, "dgram_sink: %s: longer than a socket path may be\n", argv[1]);
        return 2;
    }
    strcpy(sa.sun_path, argv[1]);
    if ((out = fopen(argv[2], "a")) == NULL) {
        fprintf(stderr, "dgram_sink: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    unlink(argv[1]);
    if ((fd = socket(AF_UNIX, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || (stream && listen(fd, 1) != 0)) {
        fprintf(stderr, "dgram_sink: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (stream && !stop)
        pause();
    while (!stop) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;
        if (argc == 4 && access(argv[3], F_OK) == 0) {
            fflush(out);
            usleep(10000);
            continue;
        }
        if (poll(&p, 1, 20) <= 0) {   /* idle: what was read is in OUT (each line at once was slower than apikeyd writes) */
            fflush(out);
            continue;
        }
        if ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) < 0) continue;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\n') buf[i] = '|';
        fwrite(buf, 1, (size_t)n, out);
        fputc('\n', out);
    }
    unlink(argv[1]);
    fclose(out);
    return 0;
}
