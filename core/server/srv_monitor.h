/* srv_monitor.h - a thread that pings PostgreSQL every period on its own
 * connection, publishes the outcome in the shared state for Health (which thus
 * never waits on the database) and logs each change of state once. */
#ifndef SRV_MONITOR_H
#define SRV_MONITOR_H

#include "srv_state.h"

typedef struct srv_monitor srv_monitor;

/* Borrows url and state; both outlive the monitor. First ping at once. */
int srv_monitor_create(srv_monitor **out, const char *url, int period_ms, srv_state *state);
/* Stops and joins the thread. NULL is a no-op. */
void srv_monitor_destroy(srv_monitor *m);

#endif
