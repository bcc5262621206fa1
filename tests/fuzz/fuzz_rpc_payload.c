/* fuzz_rpc_payload.c - every RiskService payload within the bounds of
 * rpc_decode.h: byte 0 picks the method, the rest is decoded as its request
 * (what the core accepts, 16x budget) and as its response (what the gateway
 * and amlctl accept from the core, 64x budget). */
#include "aml/v1/risk_service.pb-c.h"
#include "fuzz.h"
#include "rpc_decode.h"

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
	    0)
		protobuf_c_message_free_unpacked(msg, NULL);
	if (rpc_decode(m->output, data + 1, size - 1, &rpc_reply_limits, &msg, why, sizeof(why)) ==
	    0)
		protobuf_c_message_free_unpacked(msg, NULL);
	return 0;
}
