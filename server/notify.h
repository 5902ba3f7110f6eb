/* notify: tells systemd (Type=notify, sd_notify(3)) where apikeyd is:
 * notify_ready() once the listeners accept, notify_reloading() and
 * notify_ready() around a SIGHUP reload, notify_stopping() when SIGTERM
 * starts the shutdown. Each also sets STATUS= to a short line for
 * `systemctl status`.
 *
 * Built with libsystemd when pkg-config finds it (APIKEYD_HAVE_SYSTEMD);
 * without it every call does nothing, and notify_check() says so when
 * NOTIFY_SOCKET is set (a unit with Type=notify would wait in vain).
 * Nothing to free; safe to call when not started by systemd (no
 * NOTIFY_SOCKET: no-op). */
#ifndef APIKEYD_NOTIFY_H
#define APIKEYD_NOTIFY_H

/* 1 when sd_notify is compiled in. */
int notify_available(void);
/* Logs a warning when NOTIFY_SOCKET is set and notify is not compiled in. */
void notify_check(void);
void notify_ready(const char *status);
void notify_reloading(void);
void notify_stopping(void);

#endif
