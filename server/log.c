/* log: yder setup, the access-log line and request ids. */
#include "log.h"
#include "rt_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <yder.h>

#include "rt_utf8.h"
#ifdef APIKEYD_HAVE_KEYSVC
#include "token.h"
#endif

static enum log_format log_fmt;
static int log_started;
static atomic_ulong log_level_now;           /* yder's level, for log_access to skip work */

/* Access lines written to standard error wait here while other requests
 * are in flight, and go out together: a write(2) a line was about one in
 * three system calls of a keep-alive request (strace) and 1-1.5 us of its
 * system time under load (bench-perf's runs, /proc). Each thread keeps its
 * lines in a buffer of its own (a slot): one buffer for all made every
 * request take one lock, which the workers fought over (0.39 futex calls
 * per request under wrk, nearly all of them this lock and the flusher's
 * wake-ups; perf's futex tracepoint). A line waits at most LOG_PEND_MS (the
 * flusher thread), and not at all when its request was the only one in
 * flight and the line before it is over 1 ms old, so an idle server's log
 * is as prompt as before. A thread's lines keep their order; lines of
 * different threads may come out of order by up to LOG_PEND_MS. Every
 * other message, and log_close, write every slot first. Threads beyond
 * LOG_PEND_SLOTS write each line at once. */
#define LOG_PEND_CAP 16384
#define LOG_PEND_MS 20
#define LOG_PEND_SLOTS 256
/* A line within LOG_PEND_BUSY_NS of the one before it waits too, even with
   no other request in flight: under load a worker often finishes its request
   while the others wait for their next, and half the requests wrote their
   line alone (0.5 write(2) a request, 2.8 us each, 5% of the server CPU of
   a keep-alive HTTPS request in bench-perf's (b); perf). A server idle for
   a moment still writes at once. */
#define LOG_PEND_BUSY_NS 1000000L
static atomic_llong log_pend_last_ns;        /* CLOCK_MONOTONIC of the last line put */

typedef struct log_slot {
    pthread_mutex_t lock;                    /* its thread's, a flush's: seldom both */
    atomic_int owned;                        /* a live thread writes into it */
    size_t n;                                /* bytes waiting in buf (changed under lock; read without it to skip an empty slot) */
    struct timespec since;                   /* the oldest waiting line's (CLOCK_MONOTONIC_COARSE: a few ms is fine) */
    char buf[LOG_PEND_CAP];
} log_slot;

static struct {
    _Atomic(log_slot *) slot[LOG_PEND_SLOTS]; /* filled in order: the first NULL ends them */
    atomic_int pending;                      /* slots with lines waiting */
    atomic_int asleep;                       /* the flusher waits for a line: a slot that fills wakes it */
    atomic_int again;                        /* every slot is due: set by a write that found another under way */
    pthread_mutex_t wlock;                   /* taken to write slots: one writer at a time, then a slot's lock */
    pthread_mutex_t lock;                    /* the flusher's sleep */
    pthread_cond_t wake;
    pthread_t flusher;
    int flusher_on, stop;
} log_pend = { .wlock = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER,
               .wake = PTHREAD_COND_INITIALIZER };

static _Thread_local log_slot *log_slot_own;
static _Thread_local int log_slot_none;      /* every slot taken: this thread writes at once */
static pthread_once_t log_slot_once = PTHREAD_ONCE_INIT;
static pthread_key_t log_slot_key;

static double log_ms_since(const struct timespec *t0);

/* Standard error's reader may stop reading: journald stalled, a terminal
 * paused with ^S, a supervisor's pipe that nobody drains. A write(2) to a
 * full pipe waits for its reader, and each worker that wrote its line
 * waited with it: with standard error a pipe held open and not read, the
 * server answered 780 requests (64 KiB of lines) and then nothing, health
 * checks included. Lines go out through a descriptor that never waits
 * instead (log_out_open): a pipe, FIFO or terminal opened again, on a file
 * description of its own with O_NONBLOCK (setting it on descriptor 2 would
 * set it for every process sharing it: a shell's terminal); a socket
 * (journald's stream, StandardError=journal) with send(MSG_DONTWAIT); a
 * regular file through a pipe to a thread that copies it there (its writes
 * wait for the disk: log_copier). What the
 * reader takes no more of waits in the carry (log_carry, under wlock),
 * written before anything else; while it waits nothing else is written,
 * the lines wait in their threads' slots, and a line for a full slot is
 * given up and counted (log_dropped). When the reader takes lines again,
 * the carry goes out, then a warning of how many were given up, then the
 * slots. No thread waits for the reader: the flusher tries again every
 * LOG_PEND_MS; log_close waits for it up to LOG_CLOSE_WAIT_MS. A write that
 * fails otherwise (no reader at all, a full disk) gives its lines up and
 * counts them.
 *
 * Syslog and the journal (--log-target) are the same: their daemon reads
 * a datagram socket (/dev/log, /run/systemd/journal/socket), and a
 * daemon that stalls stops reading it. Through yder, glibc's syslog(3)
 * and libsystemd's sd_journal_print send with a call that waits, and a
 * worker waited there after each request: with /dev/log held by a reader
 * that read nothing, 7 of 1,500 requests were answered in 10 s. apikeyd
 * sends to the daemon's socket itself, connected once, never waiting
 * (log_out_connect), each line one datagram in the daemon's own format
 * (log_emit_dgram): its slot holds the line as its syslog severity's digit
 * and the message, and the flusher's write adds syslog's "<PRI>Mmm dd
 * hh:mm:ss apikeyd[PID]: " or the journal's PRIORITY, SYSLOG_IDENTIFIER,
 * SYSLOG_PID and MESSAGE fields. A daemon that is gone (restarted: its
 * socket is a new one) is connected to again, once a second at most;
 * meanwhile lines are given up and counted. */
#define LOG_CLOSE_WAIT_MS 2000
#define LOG_RECONNECT_NS 1000000000LL
static struct {
    int fd;                                  /* STDERR_FILENO, or ours (own) */
    int sock, own;
    int file;                                /* standard error a regular file: fd is the pipe to log_copier */
    enum log_target dgram;                   /* LOG_TARGET_SYSLOG, _JOURNALD: fd is that daemon's socket */
    char path[108];                          /* its socket's path */
    long long retry_ns;                      /* not connected: not tried again before (CLOCK_MONOTONIC; under wlock) */
    const char *what;                        /* for the warning: "standard error", "syslog", "the journal" */
} log_out = { .fd = STDERR_FILENO, .what = "standard error" };
static atomic_int log_stalled;               /* the carry holds lines the reader took no more of */
static atomic_ulong log_dropped;             /* lines given up */
static unsigned long log_dropped_told;       /* of them, in a warning already (under wlock) */
static char log_carry[LOG_PEND_CAP];         /* under wlock */
static size_t log_carry_n;
static int log_gave_up;                      /* log_emit gave lines up (under wlock) */

static long long log_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* (Re)connects log_out.fd to the daemon's socket log_out.path: a datagram
   socket that never waits (SOCK_NONBLOCK), so a full queue is EAGAIN.
   0, or -1 with errno (the socket kept, not connected). */
static int log_out_connect(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int sndbuf = 1 << 20;

    if (log_out.fd < 0 || log_out.fd == STDERR_FILENO) {
        if ((log_out.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) return -1;
        log_out.own = 1;
        /* many lines in flight to a reader that keeps up: its queue's
           length bounds them first (net.unix.max_dgram_qlen) */
        (void)setsockopt(log_out.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    memcpy(sa.sun_path, log_out.path, sizeof sa.sun_path);
    if (connect(log_out.fd, (struct sockaddr *)&sa, sizeof sa) == 0) return 0;
    if (errno == EISCONN) return 0;
    return -1;
}

/* syslog's severity of a yder level, as the digit a socket target's line
   starts with */
static char log_severity(unsigned long level)
{
    return level == Y_LOG_LEVEL_ERROR ? '3' : level == Y_LOG_LEVEL_WARNING ? '4' : level == Y_LOG_LEVEL_DEBUG ? '7' : '6';
}

static int log_copy_start(void);

static void log_out_open(void)
{
    struct stat st;

    log_out.fd = STDERR_FILENO;
    log_out.sock = log_out.own = log_out.file = 0;
    if (fstat(STDERR_FILENO, &st) != 0) return;
    if (S_ISREG(st.st_mode)) {
        (void)log_copy_start();   /* else descriptor 2 as it is, whose writes may wait */
    } else if (S_ISSOCK(st.st_mode)) {
        log_out.sock = 1;
    } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
        int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) {   /* else descriptor 2 as it is, whose writes may wait */
            log_out.fd = fd;
            log_out.own = 1;
        }
    }
}

static unsigned long log_lines_in(const char *b, size_t n)
{
    unsigned long k = 0;
    for (const char *e = b + n; (b = memchr(b, '\n', (size_t)(e - b))) != NULL; b++) k++;
    return k;
}

/* log_emit for a socket target: each line of b[0..n) (its severity's digit,
   the message, a newline) one datagram in the daemon's format, up to
   LOG_DGRAM_BATCH in one sendmmsg. Returns as log_emit: n, or fewer when
   the daemon's queue is full (log_stalled set). Not connected (the daemon
   gone, or restarted with a new socket): connected again, then the line
   sent again; when that fails, the lines are given up (counted when count
   is set) until a second has passed. */
#define LOG_DGRAM_BATCH 32
static size_t log_emit_dgram(const char *b, size_t n, int count)
{
    char head[LOG_DGRAM_BATCH][112], stamp[16] = "";
    struct iovec iov[LOG_DGRAM_BATCH][3];
    struct mmsghdr mm[LOG_DGRAM_BATCH];
    size_t len[LOG_DGRAM_BATCH], done = 0;
    int pid = (int)getpid(), retried = 0;

    if (log_out.dgram == LOG_TARGET_SYSLOG) {   /* syslog's own stamp: local time, to the second */
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
    }
    while (done < n) {
        size_t o = done;
        int k = 0, s;
        if (log_out.retry_ns != 0) {   /* not connected */
            long long now = log_now_ns();
            if (now < log_out.retry_ns || log_out_connect() != 0) {
                if (now >= log_out.retry_ns) log_out.retry_ns = now + LOG_RECONNECT_NS;
                log_gave_up = 1;
                if (count) atomic_fetch_add(&log_dropped, log_lines_in(b + done, n - done));
                return n;
            }
            log_out.retry_ns = 0;
        }
        for (; k < LOG_DGRAM_BATCH && o < n; k++) {
            const char *line = b + o, *e = memchr(line, '\n', n - o);
            size_t l = e != NULL ? (size_t)(e - line) : n - o, h;
            char sev = l > 0 && line[0] >= '0' && line[0] <= '7' ? line[0] : '6';
            if (log_out.dgram == LOG_TARGET_SYSLOG)   /* facility user (1) */
                h = (size_t)snprintf(head[k], sizeof head[k], "<%d>%s apikeyd[%d]: ", 8 + (sev - '0'), stamp, pid);
            else
                h = (size_t)snprintf(head[k], sizeof head[k], "PRIORITY=%c\nSYSLOG_FACILITY=1\n"
                                     "SYSLOG_IDENTIFIER=apikeyd\nSYSLOG_PID=%d\nMESSAGE=", sev, pid);
            iov[k][0] = (struct iovec){ head[k], h };
            iov[k][1] = (struct iovec){ (void *)(l > 0 ? line + 1 : line), l > 0 ? l - 1 : 0 };
            iov[k][2] = (struct iovec){ "\n", 1 };   /* the journal's field ends with one */
            mm[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = iov[k],
                                                   .msg_iovlen = log_out.dgram == LOG_TARGET_SYSLOG ? 2 : 3 } };
            len[k] = e != NULL ? l + 1 : l;
            o += len[k];
        }
        s = sendmmsg(log_out.fd, mm, (unsigned)k, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (s > 0) {
            for (int i = 0; i < s; i++) done += len[i];
            retried = 0;
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {   /* the daemon's queue is full */
            atomic_store(&log_stalled, 1);
            return done;
        }
        if (errno == ECONNREFUSED || errno == ENOTCONN || errno == ECONNRESET || errno == ENOENT) {
            /* the daemon gone or restarted: its socket again, now; failing
               again right after, not before a second has passed */
            log_out.retry_ns = log_now_ns() + (retried ? LOG_RECONNECT_NS : 0);
            retried = 1;
            continue;
        }
        log_gave_up = 1;
        if (count) atomic_fetch_add(&log_dropped, 1);   /* this line alone (EMSGSIZE: too long for the socket) */
        done += len[0];
    }
    return done;
}

/* Standard error a regular file: its writes wait for the disk, and a disk
 * that stops answering (an NFS server gone, a dying device, a frozen file
 * system) held the worker that wrote a line, then every worker: with it
 * frozen, 0 of 2,000 requests were answered in 10 s. Lines go through a
 * pipe instead, written as any pipe is (never waiting), and a thread of
 * its own (log_copier) copies them to the file: when the disk stops
 * answering only that thread waits, the pipe (1 MiB) fills, and the log
 * stalls as for a reader that stopped reading. A write to the file that
 * fails (a full disk) gives its lines up and counts them. */
#define LOG_COPY_PIPE (1 << 20)
#define LOG_COPY_WRITE 65536                 /* the most log_emit writes to it at once */
#define LOG_COPY_BUF (1 << 17)               /* the copier's buffer */
#define LOG_COPY_PAUSE_MS 2                  /* the copier's pause after each copy */
static struct {
    pthread_t th;
    int on;
} log_copy;

static void *log_copier(void *arg)
{
    /* its own buffer and pipe end: a copier a stop gave up on (its disk
       hung) may still run beside the next one */
    int rfd = (int)(intptr_t)arg;
    char *buf = malloc(LOG_COPY_BUF);
    size_t have = 0;

    if (buf == NULL) return NULL;   /* the pipe fills: its lines are given up and counted */
    for (;;) {
        ssize_t n = read(rfd, buf + have, LOG_COPY_BUF - have);
        size_t upto;
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) have += (size_t)n;
        /* whole lines, as log_emit wrote them: a file others append to keeps
           them whole (a read can end inside a line) */
        for (upto = have; n > 0 && upto > 0 && buf[upto - 1] != '\n'; upto--)
            ;
        if (n > 0 && upto == 0 && have == LOG_COPY_BUF) upto = have;   /* one line longer than buf: as it is */
        for (size_t o = 0; o < upto;) {
            ssize_t w = write(STDERR_FILENO, buf + o, upto - o);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                atomic_fetch_add(&log_dropped, log_lines_in(buf + o, upto - o));
                break;
            }
            o += (size_t)w;
        }
        memmove(buf, buf + upto, have - upto);
        have -= upto;
        if (n <= 0) break;   /* log_close closed the write end (what is left was whole lines), or an error */
        {
            /* a moment for more to come: every write into a pipe its reader
               waits on wakes the reader, and the workers' many small writes
               each woke it (7% more CPU a request in bench-perf's (b)); a
               write into it while the copier sleeps wakes nobody */
            struct timespec pause = { 0, LOG_COPY_PAUSE_MS * 1000000L };
            nanosleep(&pause, NULL);
        }
    }
    close(rfd);
    free(buf);
    return NULL;
}

/* log_out onto a pipe to the copier; 0, or -1 (standard error as it is) */
static int log_copy_start(void)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    (void)fcntl(p[1], F_SETPIPE_SZ, LOG_COPY_PIPE);   /* a disk slower for a moment loses nothing */
    if (fcntl(p[1], F_SETFL, O_NONBLOCK) != 0) goto fail;
    if (pthread_create(&log_copy.th, NULL, log_copier, (void *)(intptr_t)p[0]) != 0) goto fail;
    log_copy.on = 1;
    log_out.fd = p[1];
    log_out.own = 1;
    log_out.file = 1;
    return 0;
fail:
    close(p[0]);
    close(p[1]);
    return -1;
}

/* log_close's: the pipe closed, what it holds copied (LOG_CLOSE_WAIT_MS at
   most: a disk that does not answer holds the copier, not the stop) */
static void log_copy_stop(void)
{
    struct timespec t;

    if (!log_copy.on) return;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += LOG_CLOSE_WAIT_MS / 1000;
    if (pthread_timedjoin_np(log_copy.th, NULL, &t) != 0) pthread_detach(log_copy.th);   /* it closes its end itself */
    log_copy.on = 0;
}

/* Writes b[0..n) (whole lines, in writes of at most PIPE_BUF bytes cut at
   line ends, which a pipe keeps whole beside another process's); returns
   the bytes done with: n, or fewer when the reader takes no more now
   (log_stalled set). A write that fails otherwise gives its lines up,
   counted when count is set. */
static size_t log_emit(const char *b, size_t n, int count)
{
    size_t done = 0;

    if (log_out.dgram) return log_emit_dgram(b, n, count);

    while (done < n) {
        size_t k = n - done;
        ssize_t w;
        /* a pipe others write too keeps a write of PIPE_BUF bytes whole; the
           copier's pipe is ours alone (it keeps lines whole itself), and a
           write a wake-up of the copier: larger ones there */
        size_t most = log_out.file ? LOG_COPY_WRITE : PIPE_BUF;
        if (k > most) {
            k = most;
            while (k > 0 && b[done + k - 1] != '\n') k--;
            if (k == 0) k = most;   /* one line longer than that: as it comes */
        }
        w = log_out.sock ? send(log_out.fd, b + done, k, MSG_DONTWAIT | MSG_NOSIGNAL) : write(log_out.fd, b + done, k);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            atomic_store(&log_stalled, 1);
            return done;
        }
        if (w <= 0) {
            log_gave_up = 1;
            if (count) atomic_fetch_add(&log_dropped, log_lines_in(b + done, k));
            w = (ssize_t)k;
        }
        done += (size_t)w;
    }
    return done;
}

/* Under wlock: b[0..n) out, what the reader does not take into the carry
   (empty: the callers write only once it is); 0, or -1 when some waits */
static int log_emit_or_carry(const char *b, size_t n, int count)
{
    size_t d = log_emit(b, n, count);

    if (d == n) return 0;
    memcpy(log_carry, b + d, n - d);
    log_carry_n = n - d;
    return -1;
}

static void log_dropped_line(char *buf, size_t len, unsigned long n);

/* Under wlock: the carry out, then the warning of the lines given up since
   the last one; 0 when both are out, -1 when the reader still takes no
   more (nothing else may be written then) */
static int log_carry_out(void)
{
    unsigned long d;

    if (log_carry_n > 0) {
        size_t w = log_emit(log_carry, log_carry_n, 1);
        memmove(log_carry, log_carry + w, log_carry_n - w);
        log_carry_n -= w;
        if (log_carry_n > 0) return -1;
    }
    if (atomic_load_explicit(&log_stalled, memory_order_relaxed)) atomic_store(&log_stalled, 0);
    if ((d = atomic_load(&log_dropped)) != log_dropped_told) {
        char m[320];
        log_dropped_line(m, sizeof m, d - log_dropped_told);
        log_gave_up = 0;
        if (log_emit_or_carry(m, strlen(m), 0) != 0) {   /* the warning itself is not counted */
            log_dropped_told = d;   /* it waits in the carry */
            return -1;
        }
        if (!log_gave_up) log_dropped_told = d;   /* else lost too: the next one tells these as well */
    }
    return 0;
}

/* A line of a thread with no slot (or no flusher), or another message,
   under wlock after what waits; given up when the reader takes no more
   (a message goes into the carry when it has room: after what waits there,
   before what waits in the slots) */
static void log_out_line(const char *line, size_t n, int message)
{
    pthread_mutex_lock(&log_pend.wlock);
    if (log_carry_out() == 0) {
        (void)log_emit_or_carry(line, n, 1);
    } else if (message && n <= sizeof log_carry - log_carry_n) {
        memcpy(log_carry + log_carry_n, line, n);
        log_carry_n += n;
    } else {
        atomic_fetch_add(&log_dropped, log_lines_in(line, n));
    }
    pthread_mutex_unlock(&log_pend.wlock);
}

static int log_pend_write_all(int due_only, double *next_ms, log_slot *only, int try_);

/* A thread's end: what its slot holds goes out, and the slot is free for
   another thread. */
static void log_slot_release(void *v)
{
    log_slot *s = v;

    log_pend_write_all(0, NULL, s, 0);
    atomic_store(&s->owned, 0);
}

static void log_slot_key_make(void)
{
    if (pthread_key_create(&log_slot_key, log_slot_release) != 0) log_slot_none = 1;
}

/* This thread's slot (a free one, else a new one), or NULL when all
   LOG_PEND_SLOTS are taken or out of memory. */
static log_slot *log_slot_mine(void)
{
    if (log_slot_own != NULL || log_slot_none) return log_slot_own;
    pthread_once(&log_slot_once, log_slot_key_make);
    for (size_t i = 0; i < LOG_PEND_SLOTS && !log_slot_none; i++) {
        log_slot *s = atomic_load(&log_pend.slot[i]), *none = NULL;
        int free_ = 0;
        if (s == NULL) {
            if ((s = calloc(1, sizeof *s)) == NULL) break;
            pthread_mutex_init(&s->lock, NULL);
            atomic_store(&s->owned, 1);
            if (!atomic_compare_exchange_strong(&log_pend.slot[i], &none, s)) {   /* another thread's, just now */
                pthread_mutex_destroy(&s->lock);
                free(s);
                i--;
                continue;
            }
        } else if (!atomic_compare_exchange_strong(&s->owned, &free_, 1)) {
            continue;
        }
        if (pthread_setspecific(log_slot_key, s) != 0) {   /* no release at exit: give it back now */
            atomic_store(&s->owned, 0);
            break;
        }
        return log_slot_own = s;
    }
    log_slot_none = 1;
    return NULL;
}

/* Writes what the slots hold (only: that slot alone; due_only: the slots
   whose oldest line is LOG_PEND_MS old, and *next_ms says when the next one
   is), gathered into as few writes as fit. One writer at a time (wlock):
   lines taken from a slot are written before any taken later, so a
   thread's lines keep their order. Lock order: wlock, then a slot's.
   try_: not when another thread is writing (0 returned; 1 when written).
   The carry first: while the reader takes nothing, the slots keep their
   lines, and what the reader left of a write becomes the carry. */
static int log_pend_write_all(int due_only, double *next_ms, log_slot *only, int try_)
{
    char out[LOG_PEND_CAP];
    size_t o = 0;
    int stuck = 0;

    if (!try_) pthread_mutex_lock(&log_pend.wlock);
    else if (pthread_mutex_trylock(&log_pend.wlock) != 0) return 0;
again:
    if (log_carry_out() != 0) goto done;
    for (size_t i = 0; i < LOG_PEND_SLOTS; i++) {
        log_slot *s = only != NULL ? only : atomic_load(&log_pend.slot[i]);
        if (s == NULL) break;
        /* an empty slot without its lock: lines its thread adds meanwhile
           are later than ours, and go with its next write or the flusher's */
        if (only == NULL && __atomic_load_n(&s->n, __ATOMIC_ACQUIRE) == 0) continue;
        pthread_mutex_lock(&s->lock);
        if (s->n > 0) {
            double age = due_only ? log_ms_since(&s->since) : LOG_PEND_MS;
            if (age >= LOG_PEND_MS) {
                if (o + s->n > sizeof out) {
                    stuck = log_emit_or_carry(out, o, 1) != 0;
                    o = 0;
                }
                if (!stuck) {
                    memcpy(out + o, s->buf, s->n);
                    o += s->n;
                    __atomic_store_n(&s->n, 0, __ATOMIC_RELEASE);
                    atomic_fetch_sub(&log_pend.pending, 1);
                }
            } else if (next_ms != NULL && LOG_PEND_MS - age < *next_ms) {
                *next_ms = LOG_PEND_MS - age;
            }
        }
        pthread_mutex_unlock(&s->lock);
        if (only != NULL || stuck) break;
    }
    if (stuck || (o > 0 && log_emit_or_carry(out, o, 1) != 0)) goto done;
    o = 0;
    if (atomic_exchange(&log_pend.again, 0)) {   /* a thread with no other request in flight came meanwhile */
        due_only = 0;
        only = NULL;
        goto again;
    }
done:
    pthread_mutex_unlock(&log_pend.wlock);
    return 1;
}

const char *log_level_name(unsigned long level)
{
    return level == Y_LOG_LEVEL_ERROR ? "error" : level == Y_LOG_LEVEL_WARNING ? "warning"
         : level == Y_LOG_LEVEL_DEBUG ? "debug" : level == Y_LOG_LEVEL_NONE ? "none" : "info";
}

/* Appends v to buf[*o..len) as a JSON string's contents: quote, backslash
   and control characters escaped, and every byte >= 0x80 too when v is not
   valid UTF-8 (a log line always parses). */
static void log_json_str(char *buf, size_t len, size_t *o, const char *v)
{
    int utf8 = rt_utf8_valid(v, strlen(v));

    for (const unsigned char *p = (const unsigned char *)v; *p && *o + 8 < len; p++) {
        if (*p == '"' || *p == '\\') { buf[(*o)++] = '\\'; buf[(*o)++] = (char)*p; }
        else if (*p == '\n') { buf[(*o)++] = '\\'; buf[(*o)++] = 'n'; }
        else if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !utf8))
            *o += (size_t)snprintf(buf + *o, len - *o, "\\u%04x", *p);
        else buf[(*o)++] = (char)*p;
    }
    buf[*o] = '\0';
}

/* "2026-12-01T12:00:00.123Z", now */
static void log_time_ms(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char s[24];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%.19s.%03uZ", s, (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

static double log_ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

void log_flush(void)
{
    log_pend_write_all(0, NULL, NULL, 0);
}

/* An access line (n bytes, its newline included, n < LOG_PEND_CAP) into
   this thread's slot, and out now when more is 0 (no other request in
   flight: every slot goes) and the line before it is over
   LOG_PEND_BUSY_NS old or the slot's oldest line is LOG_PEND_MS old,
   unless another thread is writing (then the flusher's next round); at
   once when there is no flusher or no slot. */
static void log_pend_put(const char *line, size_t n, int more)
{
    log_slot *s = log_pend.flusher_on ? log_slot_mine() : NULL;
    int filled = 0, due;

    if (s == NULL) {
        log_out_line(line, n, 0);
        return;
    }
    {
        struct timespec t;
        long long now, prev;
        clock_gettime(CLOCK_MONOTONIC, &t);
        now = (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
        prev = atomic_load_explicit(&log_pend_last_ns, memory_order_relaxed);
        atomic_store_explicit(&log_pend_last_ns, now, memory_order_relaxed);
        if (now - prev < LOG_PEND_BUSY_NS) more = 1;   /* busy: the flusher or the next idle line writes it */
    }
    pthread_mutex_lock(&s->lock);
    if (n > sizeof s->buf - s->n) {   /* full: out first (only this thread adds to it) */
        pthread_mutex_unlock(&s->lock);
        if (!atomic_load(&log_stalled)) log_pend_write_all(0, NULL, s, 0);
        pthread_mutex_lock(&s->lock);
        if (n > sizeof s->buf - s->n) {   /* the reader takes no more: this line is given up */
            pthread_mutex_unlock(&s->lock);
            atomic_fetch_add(&log_dropped, 1);
            return;
        }
    }
    if (s->n == 0) {
        clock_gettime(CLOCK_MONOTONIC_COARSE, &s->since);
        atomic_fetch_add(&log_pend.pending, 1);
        filled = 1;
    }
    memcpy(s->buf + s->n, line, n);
    __atomic_store_n(&s->n, s->n + n, __ATOMIC_RELEASE);
    due = log_ms_since(&s->since) >= LOG_PEND_MS;
    pthread_mutex_unlock(&s->lock);
    /* no other request in flight: every slot now, or, while another thread
       writes, by that one before it lets go (again); when that one had
       looked already, by whoever writes next, the flusher at the latest */
    if (!more) {
        if (log_pend_write_all(0, NULL, NULL, 1)) return;
        atomic_store(&log_pend.again, 1);
        if (log_pend_write_all(0, NULL, NULL, 1)) return;
    }
    if (more && due && log_pend_write_all(0, NULL, s, 1)) return;
    if (filled && atomic_load(&log_pend.asleep)) {
        /* pending went up before asleep was read; the flusher sets asleep
           before it reads pending, so one of the two sees the other */
        pthread_mutex_lock(&log_pend.lock);
        pthread_cond_signal(&log_pend.wake);
        pthread_mutex_unlock(&log_pend.lock);
    }
}

/* The flusher: what waits goes out once it is LOG_PEND_MS old, even when
   no request follows it (one still in flight holds the others' lines);
   asleep while no slot holds a line. */
static void *log_flusher(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&log_pend.lock);
    while (!log_pend.stop) {
        double next = LOG_PEND_MS;
        pthread_mutex_unlock(&log_pend.lock);
        log_pend_write_all(1, &next, NULL, 0);
        pthread_mutex_lock(&log_pend.lock);
        if (log_pend.stop) break;
        if (atomic_load(&log_pend.pending) == 0 && !atomic_load(&log_stalled)) {   /* nothing waits, in a slot or the carry */
            atomic_store(&log_pend.asleep, 1);
            if (atomic_load(&log_pend.pending) == 0) pthread_cond_wait(&log_pend.wake, &log_pend.lock);
            atomic_store(&log_pend.asleep, 0);
        } else if (atomic_load(&log_stalled)) {
            /* until the reader takes some (a daemon's queue of 10 datagrams,
               net.unix.max_dgram_qlen, fills in a moment under load), at
               most LOG_PEND_MS: lines wait in the slots meanwhile */
            struct pollfd p = { .fd = log_out.fd, .events = POLLOUT };
            pthread_mutex_unlock(&log_pend.lock);
            (void)poll(&p, 1, LOG_PEND_MS);
            pthread_mutex_lock(&log_pend.lock);
        } else {
            struct timespec wake;
            long ns = (long)(next * 1e6) + 1000000L;   /* the coarse clock's tick */
            clock_gettime(CLOCK_REALTIME, &wake);
            wake.tv_sec += ns / 1000000000L;
            wake.tv_nsec += ns % 1000000000L;
            if (wake.tv_nsec >= 1000000000L) { wake.tv_sec++; wake.tv_nsec -= 1000000000L; }
            pthread_cond_timedwait(&log_pend.wake, &log_pend.lock, &wake);
        }
    }
    pthread_mutex_unlock(&log_pend.lock);
    return NULL;
}

/* message as one line of the log's format, its newline included, in
   line[0..len): "<time> app LEVEL: message" (text; date, to the second),
   {"time","level","msg"} (json; now, to the millisecond); a longer one is
   cut. Its length. */
static size_t log_format_line(char *line, size_t len, const char *app, time_t date, unsigned long level,
                              const char *message)
{
    char when[32];
    struct tm tm;
    size_t o = 0;
    const char *lv = level == Y_LOG_LEVEL_ERROR ? "ERROR" : level == Y_LOG_LEVEL_WARNING ? "WARNING"
                   : level == Y_LOG_LEVEL_DEBUG ? "DEBUG" : "INFO";

    if (log_out.dgram) line[o++] = log_severity(level);   /* the daemon stamps it and names apikeyd */
    if (log_fmt == LOG_FORMAT_JSON) {
        log_time_ms(when, sizeof when);
        o += (size_t)snprintf(line + o, len - o, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", when,
                              log_level_name(level));
        log_json_str(line, len - 3, &o, message);
        line[o++] = '"';
        line[o++] = '}';
    } else if (log_out.dgram) {   /* one datagram, one line: a newline in it is a space */
        for (const char *p = message; *p && o < len - 2; p++) line[o++] = *p == '\n' || *p == '\r' ? ' ' : *p;
    } else {
        gmtime_r(&date, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        o = (size_t)snprintf(line, len, "%s %s %s: %s", when, app, lv, message);
    }
    if (o > len - 2) o = len - 2;
    line[o++] = '\n';
    return o;
}

/* yder's callback: every message (yder's console mode writes below-error
   levels to stdout, which apikeyd keeps for program output; its syslog and
   journald modes wait for the daemon) goes to the target through this,
   after the access lines waiting before it, and never waiting for the
   reader (log_out_line: into the carry, or given up). */
static void log_to_target(void *cls, const char *app, const time_t date, const unsigned long level,
        const char *message)
{
    char line[8192];

    (void)cls;
    log_flush();   /* the access lines before it go first */
    log_out_line(line, log_format_line(line, sizeof line, app, date, level, message), 1);
}

/* The warning of n lines given up, as a line of the log */
static void log_dropped_line(char *buf, size_t len, unsigned long n)
{
    char m[224];

    snprintf(m, sizeof m, "%lu log lines given up: %s took no more (%s); requests were served meanwhile", n,
             log_out.what, log_out.dgram ? "its daemon had stopped reading, or was gone"
             : log_out.file ? "its file's disk had stopped taking writes" : "its reader had stopped reading");
    log_format_line(buf, len, "apikeyd", time(NULL), Y_LOG_LEVEL_WARNING, m);
}

/* The socket target's socket, connected (log_out_connect); 0, or -1 with
   the reason in err */
static int log_out_socket(enum log_target target, const char *path, char *err, size_t errlen)
{
    const char *what = target == LOG_TARGET_SYSLOG ? "syslog" : "journald";

    if (path == NULL) path = target == LOG_TARGET_SYSLOG ? LOG_SYSLOG_SOCKET : LOG_JOURNAL_SOCKET;
    if (strlen(path) >= sizeof log_out.path) {
        snprintf(err, errlen, "--log-target %s: socket %s: longer than a socket's path may be (%zu bytes)", what,
                 path, sizeof log_out.path - 1);
        return -1;
    }
    memset(log_out.path, 0, sizeof log_out.path);
    memcpy(log_out.path, path, strlen(path));
    log_out.dgram = target;
    log_out.retry_ns = 0;
    log_out.what = target == LOG_TARGET_SYSLOG ? "syslog" : "the journal";
    if (log_out_connect() != 0) {
        int e = errno;
        if (e == EPROTOTYPE)   /* syslog-ng's unix-stream(), or a listening socket of another kind */
            snprintf(err, errlen, "--log-target %s: cannot send to %s: it is a stream socket; apikeyd sends "
                     "datagrams, one a line (syslog-ng: unix-dgram(), rsyslog and journald: as they are)", what, path);
        else
            snprintf(err, errlen, "--log-target %s: cannot send to %s: %s (is %s running? --log-socket names another "
                     "socket)", what, path, strerror(e), target == LOG_TARGET_SYSLOG ? "a syslog daemon" : "systemd-journald");
        if (log_out.own) close(log_out.fd);
        log_out.fd = STDERR_FILENO;
        log_out.own = 0;
        log_out.dgram = LOG_TARGET_STDERR;
        log_out.what = "standard error";
        return -1;
    }
    return 0;
}

int log_init(unsigned long level, enum log_format format, enum log_target target, const char *socket_path,
             char *err, size_t errlen)
{
    log_fmt = format;
    atomic_store(&log_level_now, level);
    if (level == Y_LOG_LEVEL_NONE) return 0;
    if (log_out.own) close(log_out.fd);
    log_copy_stop();
    log_out.fd = STDERR_FILENO;
    log_out.own = log_out.sock = log_out.file = 0;
    log_out.dgram = LOG_TARGET_STDERR;
    log_out.what = "standard error";
    if (target == LOG_TARGET_STDERR) log_out_open();
    else if (log_out_socket(target, socket_path, err, errlen) != 0) return -1;
    if (y_init_logs("apikeyd", Y_LOG_MODE_CALLBACK, level, NULL, NULL) != 1) {
        snprintf(err, errlen, "yder did not start");
        return -1;
    }
    log_started = 1;
    log_pend.stop = 0;   /* no flusher: every access line is written at once */
    log_pend.flusher_on = pthread_create(&log_pend.flusher, NULL, log_flusher, NULL) == 0;
    if (y_set_logs_callback(log_to_target, NULL, "apikeyd starting") != 1) {
        snprintf(err, errlen, "yder did not take the log's callback");
        return -1;
    }
    return 0;
}

void log_set_level(unsigned long level)
{
    /* yder keeps its level in a word it reads per message; the mode, the
       callback and the app name stay */
    if (log_started) y_init_logs(NULL, Y_LOG_MODE_CURRENT, level, NULL, NULL);
    atomic_store(&log_level_now, level);
}

void log_close(void)
{
    if (log_pend.flusher_on) {
        pthread_mutex_lock(&log_pend.lock);
        log_pend.stop = 1;
        pthread_cond_signal(&log_pend.wake);
        pthread_mutex_unlock(&log_pend.lock);
        pthread_join(log_pend.flusher, NULL);
        log_pend.flusher_on = 0;
    }
    /* what waits, waiting for the reader LOG_CLOSE_WAIT_MS at most */
    for (int waited = 0;; waited += 10) {
        struct pollfd p = { .fd = log_out.fd, .events = POLLOUT };
        log_flush();
        if (!atomic_load(&log_stalled) || waited >= LOG_CLOSE_WAIT_MS) break;
        if (poll(&p, 1, 10) < 0 && errno != EINTR) break;
    }
    y_close_logs();
    if (log_out.own) close(log_out.fd);   /* the copier's pipe: it copies what is left, then ends */
    log_copy_stop();
    log_out.fd = STDERR_FILENO;
    log_out.own = log_out.sock = log_out.file = 0;
    log_out.dgram = LOG_TARGET_STDERR;
    log_out.what = "standard error";
}

void log_format_addr(const struct sockaddr *client, char *buf, size_t len)
{
    if (rt_addr_text(client, buf, len) != 0) snprintf(buf, len, "-");
}

/* ---- the access line, built by hand ----
   Every request writes one: through y_log_message it was formatted three
   times (yder's vsnprintf twice, to size and to fill, then the target's
   fprintf), with snprintf and "%.1f" on the way, about a tenth of the
   instructions of a whole request (callgrind, bench-perf). With the stderr
   target log_access now writes the finished line itself, under the same
   stream lock; syslog and journald still go through yder. */
typedef struct log_buf {
    char *b;
    size_t n, cap;                           /* n < cap: room for the NUL */
} log_buf;

static void lb_put(log_buf *l, const char *s, size_t n)
{
    if (n > l->cap - 1 - l->n) n = l->cap - 1 - l->n;
    memcpy(l->b + l->n, s, n);
    l->n += n;
    l->b[l->n] = '\0';
}

static void lb_str(log_buf *l, const char *s)
{
    lb_put(l, s, strlen(s));
}

static void lb_u64(log_buf *l, uint64_t v)
{
    char t[24];
    size_t i = sizeof t;

    do t[--i] = (char)('0' + v % 10); while ((v /= 10) != 0);
    lb_put(l, t + i, sizeof t - i);
}

/* v >= 0 with `places` decimals (1 or 3), as "%.*f" writes it but for the
   rounding of a value within 1e-9 of a tie; a negative or huge value by
   snprintf */
static void lb_fixed(log_buf *l, double v, int places)
{
    double scale = places == 1 ? 10.0 : 1000.0;
    uint64_t u, w;
    char t[8];

    if (!(v >= 0 && v < 1e12)) {
        char big[64];
        snprintf(big, sizeof big, "%.*f", places, v);
        lb_str(l, big);
        return;
    }
    u = (uint64_t)(v * scale + 0.5);
    w = u / (uint64_t)scale;
    lb_u64(l, w);
    u -= w * (uint64_t)scale;
    t[0] = '.';
    for (int i = places; i >= 1; i--, u /= 10) t[i] = (char)('0' + u % 10);
    lb_put(l, t, (size_t)places + 1);
}

/* "2026-12-01T12:00:00Z" (ms 0) or "2026-12-01T12:00:00.123Z" (ms 1) of
   now; the date part made once a second per thread */
static void lb_time(log_buf *l, int ms)
{
    static _Thread_local time_t last = (time_t)-1;
    static _Thread_local char text[24];
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != last) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
        last = ts.tv_sec;
    }
    lb_str(l, text);
    if (ms) {
        char t[4] = { '.', 0, 0, 0 };
        unsigned v = (unsigned)(ts.tv_nsec / 1000000) % 1000u;
        t[1] = (char)('0' + v / 100);
        t[2] = (char)('0' + v / 10 % 10);
        t[3] = (char)('0' + v % 10);
        lb_put(l, t, 4);
    }
    lb_put(l, "Z", 1);
}

void log_access(const log_request *r)
{
    char p[512], m[24], addr[64];
    size_t o = 0;

    if (!log_started || atomic_load_explicit(&log_level_now, memory_order_relaxed) < Y_LOG_LEVEL_INFO)
        return;   /* below info: no access line, and none of its work */
    /* method and path: printable ASCII only, the query string never */
    for (size_t i = 0; r->method && r->method[i] && o + 1 < sizeof m; i++)
        m[o++] = (r->method[i] > 32 && r->method[i] < 127) ? r->method[i] : '?';
    m[o] = '\0';
    o = 0;
    for (size_t i = 0; r->path && r->path[i] && r->path[i] != '?' && o + 5 < sizeof p; i++) {
        unsigned char c = (unsigned char)r->path[i];
        if (i == 0 || r->path[i - 1] == '/') {
            /* a key sent in the path (a client's mistake) is not logged */
            size_t seg = strcspn(r->path + i, "/?");
            if (log_looks_like_key(r->path + i, seg)) {
                o += (size_t)snprintf(p + o, sizeof p - o, "[key]");
                i += seg - 1;
                continue;
            }
        }
        if (c > 32 && c < 127 && c != '\\') p[o++] = (char)c;
        else o += (size_t)snprintf(p + o, sizeof p - o, "\\x%02X", c);
    }
    p[o] = '\0';
    log_format_addr(r->client, addr, sizeof addr);
    if (log_fmt == LOG_FORMAT_JSON) {
        /* strings through log_json_str; the request id is validated
           (no quote, no backslash) */
        char line[2048], when[32];
        const char *rid = r->request_id && log_request_id_valid(r->request_id) ? r->request_id : NULL;
        log_buf lw = { when, 0, sizeof when };
        lb_time(&lw, 1);
        o = 0;
        if (log_out.dgram) line[o++] = log_severity(Y_LOG_LEVEL_INFO);
        o += (size_t)snprintf(line + o, sizeof line - o, "{\"time\":\"%s\",\"level\":\"info\",\"msg\":\"access\","
                              "\"request_id\":%s%s%s,\"api\":\"", when, rid ? "\"" : "", rid ? rid : "null",
                              rid ? "\"" : "");
        log_json_str(line, sizeof line - 1200, &o, r->api ? r->api : "");
        o += (size_t)snprintf(line + o, sizeof line - o, "\",\"operation\":\"");
        log_json_str(line, sizeof line - 1100, &o, r->operation ? r->operation : "");
        o += (size_t)snprintf(line + o, sizeof line - o, "\",\"method\":\"");
        log_json_str(line, sizeof line - 1000, &o, m[0] ? m : "-");
        o += (size_t)snprintf(line + o, sizeof line - o, "\",\"path\":\"");
        log_json_str(line, sizeof line - 200, &o, p[0] ? p : "-");
        o += (size_t)snprintf(line + o, sizeof line - o, "\",\"status\":%u,\"duration_ms\":%.3f,\"client\":\"%s\"",
                              r->status, r->ms, addr);
        if (r->key_id > 0) snprintf(line + o, sizeof line - o, ",\"key_id\":%" PRId64 "}", r->key_id);
        else if (r->user_id > 0) snprintf(line + o, sizeof line - o, ",\"key_id\":null,\"user_id\":%" PRId64 "}", r->user_id);
        else snprintf(line + o, sizeof line - o, ",\"key_id\":null}");
        o = strlen(line);
        line[o] = '\n';   /* line has room: its parts are bounded well below its size */
        log_pend_put(line, o + 1, r->more);
        return;
    }
    {
        /* "<time> apikeyd INFO: [rid=R ]GET /path 200 1.3ms 127.0.0.1[ key=42| user=7]", as
           log_to_target writes a message (a socket target's: "6rid=R GET ...", the daemon
           stamps it) */
        char line[1024];
        log_buf l = { line, 0, sizeof line };
        line[0] = '\0';
        if (log_out.dgram) {
            line[l.n++] = log_severity(Y_LOG_LEVEL_INFO);
            line[l.n] = '\0';
        } else {
            lb_time(&l, 0);
            lb_str(&l, " apikeyd INFO: ");
        }
        if (r->request_id && log_request_id_valid(r->request_id)) {
            lb_str(&l, "rid=");
            lb_str(&l, r->request_id);
            lb_put(&l, " ", 1);
        }
        lb_str(&l, m[0] ? m : "-");
        lb_put(&l, " ", 1);
        lb_str(&l, p[0] ? p : "-");
        lb_put(&l, " ", 1);
        lb_u64(&l, r->status);
        lb_put(&l, " ", 1);
        lb_fixed(&l, r->ms, 1);
        lb_str(&l, "ms ");
        lb_str(&l, addr);
        if (r->key_id > 0) {
            lb_str(&l, " key=");
            lb_u64(&l, (uint64_t)r->key_id);
        } else if (r->user_id > 0) {
            lb_str(&l, " user=");
            lb_u64(&l, (uint64_t)r->user_id);
        }
        lb_put(&l, "\n", 1);
        log_pend_put(line, l.n, r->more);
    }
}

int log_looks_like_key(const char *s, size_t n)
{
#ifdef APIKEYD_HAVE_KEYSVC
    const char *prefix = n > 0 ? token_prefix_of(s) : NULL;
    return prefix != NULL && n >= strlen(prefix) + TOKEN_BODY_LEN;
#else
    (void)s; (void)n;
    return 0;
#endif
}

/* A character a kept request id may hold: A-Z a-z 0-9 - _ . : @ + / =
   (letters and digits by range, the common case, not strchr each) */
static int log_rid_char(unsigned char c)
{
    return (unsigned char)((c | 0x20) - 'a') < 26 || (unsigned char)(c - '0') < 10 ||
           (c != 0 && memchr("-_.:@+/=", c, 8) != NULL);
}

int log_request_id_valid(const char *v)
{
    size_t n = 0;

    if (v == NULL) return 0;
    /* every request checks its id twice (kept or made, then logged) */
    while (log_rid_char((unsigned char)v[n])) {
        if (++n > LOG_REQUEST_ID_MAX) return 0;
    }
    if (v[n] != '\0' || n == 0) return 0;
    return !log_looks_like_key(v, n);   /* a key is no request id: never logged */
}

void log_request_id_new(char *buf, size_t len)
{
    static atomic_uint_fast64_t counter;
    static char prefix[17];
    static atomic_int made;   /* 0 none, 1 being made, 2 made */
    uint_fast64_t n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed) + 1;
    int expect = 0;

    if (atomic_load_explicit(&made, memory_order_acquire) != 2) {
        if (atomic_compare_exchange_strong(&made, &expect, 1)) {
            unsigned char r[8];
            if (gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof r) != 0) memset(r, 0, sizeof r);
            for (int i = 0; i < 8; i++) snprintf(prefix + 2 * i, 3, "%02x", r[i]);
            atomic_store_explicit(&made, 2, memory_order_release);
        } else {
            while (atomic_load_explicit(&made, memory_order_acquire) != 2) { /* another thread is making it */ }
        }
    }
    /* by hand: snprintf costs more than the rest of the request id */
    if (len < 30) { snprintf(buf, len, "%s", ""); return; }
    memcpy(buf, prefix, 16);
    buf[16] = '-';
    for (int i = 11; i >= 0; i--, n >>= 4) buf[17 + i] = "0123456789abcdef"[n & 15];
    buf[29] = '\0';
}

unsigned long log_lines_dropped(void)
{
    return atomic_load(&log_dropped);
}
