/* fuzz_alert.c - aml.v1.RiskAlert (proto/aml/v1/alert.proto) as a reader
 * downstream of the alert topic takes it: the bounded decoder of
 * rpc/rpc_decode.h with the reply limits. An alert that decodes must pack to
 * bytes that decode again and pack to the same bytes (else abort). */
#include <stdlib.h>
#include <string.h>

#include "aml/v1/alert.pb-c.h"
#include "fuzz.h"
#include "rpc_decode.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *d = &aml__v1__risk_alert__descriptor;
	ProtobufCMessage *msg = NULL, *again = NULL;
	uint8_t *buf = NULL, *buf2 = NULL;
	size_t len, len2;
	char why[256];

	if (rpc_decode(d, data, size, &rpc_reply_limits, &msg, why, sizeof(why)) != 0)
		return 0;
	len = protobuf_c_message_get_packed_size(msg);
	if ((buf = malloc(len + 1)) == NULL)
		goto cleanup;
	if (protobuf_c_message_pack(msg, buf) != len)
		abort();
	if (rpc_decode(d, buf, len, &rpc_reply_limits, &again, why, sizeof(why)) != 0)
		abort();
	len2 = protobuf_c_message_get_packed_size(again);
	if (len2 != len || (buf2 = malloc(len2 + 1)) == NULL ||
	    protobuf_c_message_pack(again, buf2) != len2 || memcmp(buf, buf2, len) != 0)
		abort();
cleanup:
	free(buf);
	free(buf2);
	if (again != NULL)
		protobuf_c_message_free_unpacked(again, NULL);
	protobuf_c_message_free_unpacked(msg, NULL);
	return 0;
}
