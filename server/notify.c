/* notify: sd_notify for systemd's Type=notify (see notify.h). */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <yder.h>
#ifdef APIKEYD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#ifdef APIKEYD_HAVE_SYSTEMD
/* sd_notify gives 0 without NOTIFY_SOCKET (nothing to tell); a failure to
   send is logged, never fatal: the service keeps serving. */
static void notify_send(const char *what, const char *state)
{
    int r = sd_notify(0, state);
    if (r < 0) y_log_message(Y_LOG_LEVEL_WARNING, "sd_notify %s: error %d", what, -r);
}
#endif

int notify_available(void)
{
#ifdef APIKEYD_HAVE_SYSTEMD
    return 1;
#else
    return 0;
#endif
}

void notify_check(void)
{
    if (!notify_available() && getenv("NOTIFY_SOCKET") != NULL)
        y_log_message(Y_LOG_LEVEL_WARNING,
                      "NOTIFY_SOCKET is set but this apikeyd was built without libsystemd: "
                      "it cannot tell systemd it is ready (use Type=exec in the unit)");
}

void notify_ready(const char *status)
{
#ifdef APIKEYD_HAVE_SYSTEMD
    char msg[600];
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=%.500s", status ? status : "serving");
    notify_send("READY", msg);
#else
    (void)status;
#endif
}

void notify_reloading(void)
{
#ifdef APIKEYD_HAVE_SYSTEMD
    /* MONOTONIC_USEC: systemd 253's Type=notify-reload wants it; older ones ignore it */
    struct timespec ts;
    char msg[128];
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof msg, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    notify_send("RELOADING", msg);
#endif
}

void notify_stopping(void)
{
#ifdef APIKEYD_HAVE_SYSTEMD
    notify_send("STOPPING", "STOPPING=1\nSTATUS=stopping: finishing requests in flight");
#endif
}
