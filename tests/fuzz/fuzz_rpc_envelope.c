/* fuzz_rpc_envelope.c - the RPC envelope as it arrives from the network: what
 * amlrisk-core decodes from any peer (rpc_decode_request) and what a client
 * decodes from its server (rpc_decode_response), both within the bounds of
 * rpc_decode.h; a decoded batch's calls are walked as the server would. */
#include "fuzz.h"
#include "rpc_decode.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Aml__V1__RpcRequest *req = NULL;
	Aml__V1__RpcResponse *resp = NULL;
	char why[256];
	size_t n = 0;

	if (rpc_decode_request(data, size, &req, why, sizeof(why)) == 0) {
		for (size_t i = 0; i < req->n_calls; i++)
			n += req->calls[i]->payload.len + req->calls[i]->n_metadata;
		protobuf_c_message_free_unpacked(&req->base, NULL);
	}
	if (rpc_decode_response(data, size, &resp, why, sizeof(why)) == 0) {
		for (size_t i = 0; i < resp->n_replies; i++)
			n += resp->replies[i]->payload.len;
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	return n == (size_t)-1; /* keeps the walk; never true */
}
