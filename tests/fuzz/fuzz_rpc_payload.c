/* fuzz_rpc_payload.c - every RiskService payload within the bounds of
 * rpc_decode.h: byte 0 picks the method, the rest is decoded as its request
 * (what the core accepts, 16x budget) and as its response (what the gateway
 * and amlctl accept from the core, 64x budget). A request that decodes then
 * goes through the core's own checks that need no database: the wallet of
 * every request that has one (srv_wallet_check) and RunScore's config
 * overrides merged over the defaults as srv_rpc_run_score does. */
#include <string.h>

#include "aml/v1/risk_service.pb-c.h"
#include "core_engine.h"
#include "fuzz.h"
#include "rpc_decode.h"
#include "srv_ctx.h"

/* The core's checks of a decoded request msg. */
static void
validate(const ProtobufCMessage *msg)
{
	const ProtobufCFieldDescriptor *f =
	        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "wallet");
	char err[SRV_ERR_MAX];
	core_config base, cfg;

	if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING && f->label != PROTOBUF_C_LABEL_REPEATED)
		(void)srv_wallet_check(*(char *const *)((const char *)msg + f->offset), err,
		                       sizeof(err));
	if (msg->descriptor == &aml__v1__run_score_request__descriptor) {
		const Aml__V1__RunScoreRequest *r = (const Aml__V1__RunScoreRequest *)msg;
		const char *json = r->config_overrides_json != NULL ? r->config_overrides_json : "";
		size_t len = strlen(json);

		core_config_defaults(&base);
		if (len > 0 && len <= SRV_OVERRIDES_MAX)
			(void)core_config_merge(&cfg, &base, json, len, err, sizeof(err));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCServiceDescriptor *svc = &aml__v1__risk_service__descriptor;
	const ProtobufCMethodDescriptor *m;
	ProtobufCMessage *msg = NULL;
	char why[256];

	if (size == 0)
		return 0;
	m = &svc->methods[data[0] % svc->n_methods];
	if (rpc_decode(m->input, data + 1, size - 1, &rpc_request_limits, &msg, why, sizeof(why)) ==
	    0) {
		validate(msg);
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	if (rpc_decode(m->output, data + 1, size - 1, &rpc_reply_limits, &msg, why, sizeof(why)) ==
	    0)
		protobuf_c_message_free_unpacked(msg, NULL);
	return 0;
}
