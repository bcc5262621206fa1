/* srv_alerts.c - ListAlerts: the risk alerts of the live view (issue 14).
 * Until real-time scoring lands the core has no alerts to list and says so
 * with UNIMPLEMENTED rather than an empty answer that would look like "none". */
#include "srv_ctx.h"

#include "amlrisk_err.h"
#include "rpc.h"

SRV_HANDLER(list_alerts, ListAlertsRequest, ListAlertsResponse)
{
	(void)service;
	(void)input;
	(void)closure;
	rpc_call_fail(closure_data, AMLRISK_EUNIMPL, "ListAlerts: real-time scoring is not built yet");
}
