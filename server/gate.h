/* gate: the TLS listener's connections, held and handshaken before
 * libmicrohttpd sees them.
 *
 * libmicrohttpd 0.9.75 calls gnutls_handshake() on every handshake in
 * progress on each turn of its event loop (connection_https.c leaves the
 * connection read-ready when the handshake answers "again", so it stays on
 * the epoll ready list and the loop never sleeps): 2,000 stalled
 * ClientHellos kept the TLS workers busy with about 46,000 failing recv
 * calls a second, and 2,000 clients that sent a whole ClientHello and then
 * nothing took both cores; every legitimate handshake waiting for its
 * client's second flight kept its worker spinning too. The gate owns the
 * listening socket instead. It accepts, and holds each new connection in an
 * edge-triggered epoll of its own, which wakes only when bytes arrive or
 * room to send them does. Until the first TLS record (the ClientHello: a
 * 5-byte header, then the length it announces) is wholly there (recv
 * MSG_PEEK, FIONREAD) the connection has no TLS session (an idle or
 * trickling client costs a descriptor, not a session); then the gate makes
 * the session (cfg.tls's credentials and priorities, ALPN http/1.1 and
 * http/1.0 as libmicrohttpd's, hooks.session for tickets and client
 * certificates) and runs the handshake, a step each time the epoll says the
 * socket moved. A first byte that is not a handshake record, or a length no
 * record can have, goes to gnutls at once, which refuses it. A handshake
 * that fails, and what has not finished by the deadline (counted from the
 * accept), is closed; what finishes goes to libmicrohttpd, session and all
 * (MHD_add_connection).
 *
 * libmicrohttpd makes a TLS session of its own for every connection, and
 * handshakes it. The hand-over gives it the gate's instead: this file
 * defines gnutls_init, gnutls_handshake and gnutls_deinit, which the
 * dynamic linker finds before GnuTLS's (the executable comes first; each
 * calls GnuTLS's own, found with dlsym RTLD_NEXT). What this relies on,
 * read in libmicrohttpd 0.9.75 (src/microhttpd/daemon.c,
 * new_connection_prepare_, and connection_https.c, MHD_run_tls_handshake_):
 * MHD_add_connection makes the session with gnutls_init on the calling
 * thread, before it returns, then sets the priorities, ALPN, credentials and
 * the socket as transport (harmless on an established session: GnuTLS keeps
 * the negotiated version and keys), and later, on its worker, calls
 * gnutls_handshake once and takes GNUTLS_E_SUCCESS as the handshake done.
 * So gnutls_init on the gate's thread during a hand-over answers with the
 * gate's session (a thread-local says which); the session is also noted
 * under its descriptor, and the first gnutls_handshake or gnutls_deinit of
 * it takes the note off (an atomic compare-and-swap), the first answering
 * GNUTLS_E_SUCCESS without a step. Every other session, made anywhere else
 * in the process, goes to GnuTLS untouched.
 *
 * The limits count the gate's connections together with libmicrohttpd's:
 * the per-address limit is the gate's own (from the accept until
 * gate_closed() for a connection handed over; libmicrohttpd's limit is left
 * off for a gated listener), the total is the caller's (hooks.admit at the
 * accept, hooks.release when the gate closes one it admitted or
 * libmicrohttpd refuses one at the hand-off; after a hand-off the caller
 * releases it when libmicrohttpd reports it closed).
 *
 * cfg.threads threads, each with its own epoll and the connections it
 * accepted (the listening socket is in every epoll, each wake-up exclusive:
 * a new connection wakes one thread); full handshakes cost about 0.25 ms of
 * a thread each, so one thread per core. gate_started() and gate_closed()
 * may be called from any thread (libmicrohttpd's workers). */
#ifndef APIKEYD_GATE_H
#define APIKEYD_GATE_H
#include <time.h>
#include <microhttpd.h>
#include <gnutls/gnutls.h>

typedef struct gate gate;

typedef struct gate_hooks {
    void *cls;
    /* A connection accepted: 0 when it may be held (one of the total
       taken), -1 when the listener is full (the gate closes it). */
    int (*admit)(void *cls);
    /* An admitted connection closed by the gate (its handshake failed or
       ran out of time), or refused by libmicrohttpd at the hand-off: its
       one of the total given back. */
    void (*release)(void *cls);
    /* A new TLS session, before its handshake (session tickets, client
       certificates): 0, or -1 to close the connection. NULL: nothing. */
    int (*session)(void *cls, gnutls_session_t s);
    /* n held connections closed at the deadline (for the log). */
    void (*reaped)(void *cls, unsigned n);
} gate_hooks;

typedef struct gate_config {
    int listen_fd;             /* listening, the gate's from gate_start (closed by it) */
    struct MHD_Daemon *d;      /* started with MHD_USE_NO_LISTEN_SOCKET and MHD_USE_ITC */
    unsigned deadline_ms;      /* a connection held longer is closed */
    unsigned per_ip;           /* connections per client address; 0: no limit */
    unsigned threads;          /* the gate's threads (0: one) */
    unsigned long max_fd;      /* descriptors are below it (the open-file limit) */
    gnutls_certificate_credentials_t cred;   /* the handshakes' (the caller's; outlives the gate) */
    gnutls_priority_t priorities;            /* likewise */
    gate_hooks hooks;
} gate_config;

/* Starts the gate's thread; 0, or -1 with why in err (listen_fd is then
   not taken: the caller closes it). *out is set before the thread starts
   (so the daemon's hooks can read it once a connection is handed over),
   and freed with gate_free. */
int gate_start(const gate_config *cfg, gate **out, char *err, size_t errlen);

/* libmicrohttpd started fd, a connection the gate handed over
   (MHD_CONNECTION_NOTIFY_STARTED): from now its caller releases it when
   libmicrohttpd reports it closed. *at is when it was accepted
   (CLOCK_MONOTONIC). 0, or -1 when fd is not one the gate handed over.
   A connection handed over that libmicrohttpd drops without starting it
   (its per-worker limit, memory: it frees the session and closes the
   socket, and notifies nobody) is released by the gate (hooks.release) when
   its session is freed. */
int gate_started(gate *g, int fd, struct timespec *at);

/* libmicrohttpd closes fd, a connection the gate handed over: its client
   address has one connection less. Call before the descriptor is closed
   (MHD_CONNECTION_NOTIFY_CLOSED is). */
void gate_closed(gate *g, int fd);

/* Stops accepting: the listening socket is shut down at once (a connect is
   refused from now) and closed; held connections still go on. From one
   thread, before gate_stop. */
void gate_quiesce(gate *g);

/* Stops the thread and closes every connection held (each released).
   Call before the daemon stops; g stays valid for gate_closed until
   gate_free, after the daemon has stopped. */
void gate_stop(gate *g);
void gate_free(gate *g);

#endif
