/* srv_msg.h - the server's values as aml.v1 protobuf messages. Every message,
 * array and string is allocated in the caller's response arena; the builders
 * return NULL only when the arena is out of memory. */
#ifndef SRV_MSG_H
#define SRV_MSG_H

#include "aml/v1/risk_service.pb-c.h"
#include "core_engine.h"
#include "srv_arena.h"
#include "srv_run.h"
#include "srv_state.h"

/* ws (either model) is copied; for hop_exposure/v1 weights holds ws->hops + 1
 * entries (unused for flow_exposure/v1, may be NULL then). */
Aml__V1__WalletScore *srv_msg_wallet(srv_arena *a, const core_wallet_score *ws,
                                     const double *weights);
Aml__V1__RunSummary *srv_msg_run(srv_arena *a, const srv_summary *s);
Aml__V1__GraphInfo *srv_msg_graph(srv_arena *a, const srv_graph_info *g);
/* The live view's LiveInfo from li and the graph's watermark; lag_seconds
 * and current are worked out at now_us (Unix microseconds). */
Aml__V1__LiveInfo *srv_msg_live(srv_arena *a, const srv_live_info *li, int64_t graph_watermark,
                                int64_t now_us);
/* The same from st as it is now; when run is not NULL it gets the live
 * result the info describes (a new reference, NULL when none). */
Aml__V1__LiveInfo *srv_msg_live_state(srv_arena *a, srv_state *st, srv_run **run);

#endif
