/* mhdfix: what libmicrohttpd 0.9.75 answers or accepts on its own, before
 * any callback of apikeyd runs, brought to apikeyd's rules.
 *
 * (a) Its own error answers (400, 413, 414, 431, 500, 505) are built-in
 *     HTML without a Content-Type. libmicrohttpd makes each one with
 *     MHD_create_response_from_buffer (a persistent buffer in its own
 *     read-only data) and queues it at once with MHD_queue_response, both
 *     through its PLT; this file defines both functions, so the dynamic
 *     linker binds those calls here (the executable comes first in the
 *     lookup order), and each goes on to libmicrohttpd's own definition
 *     (dlsym RTLD_NEXT). A response made from a buffer inside
 *     libmicrohttpd's image and then queued is one of its error answers:
 *     the hook (mhdfix_install) builds the replacement, which is queued in
 *     its place; libmicrohttpd still closes the connection after it.
 * (b) When its error is raised in parse_connection_headers (a
 *     Content-Length it cannot parse: "-1", "+2", "2, 2"; a Cookie header
 *     it has no memory to copy, 431), 0.9.75's state machine writes the
 *     response head twice
 *     (parse_connection_headers queues the error, then the state is set to
 *     HEADERS_PROCESSED over it and START_REPLY builds the head again).
 *     For these (and any 431 after the head: a trailer section over the
 *     memory, where it would not be needed) the replacement is written to
 *     the socket (or the TLS session) here, in one piece, and libmicrohttpd is told the queue
 *     failed, so it closes the connection without writing anything: one
 *     response, then the close. Only on 0.9.75.
 * (c) mhdfix_head_check: bare LF line ends (and obs-fold, NUL, CR and
 *     whitespace before the colon) in a request head libmicrohttpd
 *     accepted, read from its read buffer on the first access-handler call.
 *     Only on 0.9.75, whose parser this reads (see the function).
 *
 * Nothing here allocates on the normal path; the hook's body is the
 * hook's (malloc) and freed here. */
#ifndef APIKEYD_MHDFIX_H
#define APIKEYD_MHDFIX_H
#include <stddef.h>
#include <microhttpd.h>

/* One of libmicrohttpd's own error answers, as recognised. */
typedef struct mhdfix_error {
    unsigned status;      /* the status libmicrohttpd chose */
    const char *code;     /* a short machine code: "BadRequest", "URITooLong", ... */
    const char *why;      /* a sentence for the body's detail */
} mhdfix_error;

/* The replacement: a response for e's status carrying body (*body: new,
   malloc'ed, *len bytes; the response holds its own copy) and its headers
   (Content-Type, Connection: close, ...), or NULL to let libmicrohttpd's
   own answer go out. Called on libmicrohttpd's thread for con. */
typedef struct MHD_Response *(*mhdfix_answer_fn)(void *cls, struct MHD_Connection *con, const mhdfix_error *e,
        char **body, size_t *len);

/* Installs the hook (once, before the daemons start) and checks it: the
   bindings, the version, and a Content-Length libmicrohttpd cannot parse
   sent to a daemon of its own on loopback, whose answer must be the hook's
   (the hook then sees a connection of that daemon, with no socket
   context). Returns a bit set of MHDFIX_* naming what is in effect (0 when
   the check failed: all off), and, when something is not, a sentence in
   why saying what and why not (else why is ""). */
#define MHDFIX_ERRORS 1u      /* (a) */
#define MHDFIX_ONE_HEAD 2u    /* (b) */
#define MHDFIX_LINE_ENDS 4u   /* (c) */
unsigned mhdfix_install(mhdfix_answer_fn fn, void *cls, char *why, size_t len);

/* Counts libmicrohttpd error answers replaced so far (for the self-check
   and the tests). */
unsigned long mhdfix_replaced(void);

/* (c): on the first access-handler call, with the method and version
   pointers libmicrohttpd passed: 0 when the head was framed with CRLF
   line ends throughout, else 400 with why saying what was wrong. 0 when
   MHDFIX_LINE_ENDS is not in effect. */
int mhdfix_head_check(struct MHD_Connection *con, const char *method, const char *version, char *why, size_t len);

#endif
