/* amlrisk_err.c - one table: project error -> description, gRPC code, and the
 * one table gRPC code -> HTTP status. Every boundary maps through here. */
#include "amlrisk_err.h"

#include <stddef.h>

enum { G_OK = 0, G_CANCELLED = 1, G_UNKNOWN = 2, G_INVALID_ARGUMENT = 3,
       G_DEADLINE_EXCEEDED = 4, G_NOT_FOUND = 5, G_ALREADY_EXISTS = 6,
       G_PERMISSION_DENIED = 7, G_RESOURCE_EXHAUSTED = 8,
       G_FAILED_PRECONDITION = 9, G_ABORTED = 10, G_OUT_OF_RANGE = 11,
       G_UNIMPLEMENTED = 12, G_INTERNAL = 13, G_UNAVAILABLE = 14,
       G_DATA_LOSS = 15, G_UNAUTHENTICATED = 16, G_COUNT = 17 };

static const struct {
	const char *name;
	const char *text;
	int grpc;
} err_table[AMLRISK_ERR_COUNT] = {
	[AMLRISK_OK] = { "OK", "success", G_OK },
	[AMLRISK_EINVAL] = { "EINVAL", "invalid argument", G_INVALID_ARGUMENT },
	[AMLRISK_ENOMEM] = { "ENOMEM", "out of memory", G_RESOURCE_EXHAUSTED },
	[AMLRISK_EDB] = { "EDB", "database error", G_UNAVAILABLE },
	[AMLRISK_EKAFKA] = { "EKAFKA", "kafka error", G_UNAVAILABLE },
	[AMLRISK_ENOTFOUND] = { "ENOTFOUND", "not found", G_NOT_FOUND },
	[AMLRISK_EIO] = { "EIO", "input/output error", G_UNAVAILABLE },
	[AMLRISK_ETIMEDOUT] = { "ETIMEDOUT", "deadline exceeded", G_DEADLINE_EXCEEDED },
	[AMLRISK_EBUSY] = { "EBUSY", "another operation is running", G_ABORTED },
	[AMLRISK_EUNAVAIL] = { "EUNAVAIL", "service unavailable", G_UNAVAILABLE },
	[AMLRISK_ETOOBIG] = { "ETOOBIG", "message too large", G_RESOURCE_EXHAUSTED },
	[AMLRISK_EPROTO] = { "EPROTO", "malformed message", G_INVALID_ARGUMENT },
	[AMLRISK_ESTATE] = { "ESTATE", "precondition failed", G_FAILED_PRECONDITION },
	[AMLRISK_EFULL] = { "EFULL", "queue full", G_RESOURCE_EXHAUSTED },
	[AMLRISK_EUNIMPL] = { "EUNIMPL", "not implemented", G_UNIMPLEMENTED },
	[AMLRISK_EAUTH] = { "EAUTH", "authentication required", G_UNAUTHENTICATED },
	[AMLRISK_EINTERNAL] = { "EINTERNAL", "internal error", G_INTERNAL },
	[AMLRISK_ECANCELED] = { "ECANCELED", "cancelled", G_CANCELLED },
};

static const struct {
	const char *name;
	int http;
	int err; /* the project error a client raises for it */
} grpc_table[G_COUNT] = {
	[G_OK] = { "OK", 200, AMLRISK_OK },
	[G_CANCELLED] = { "CANCELLED", 499, AMLRISK_ECANCELED },
	[G_UNKNOWN] = { "UNKNOWN", 500, AMLRISK_EINTERNAL },
	[G_INVALID_ARGUMENT] = { "INVALID_ARGUMENT", 422, AMLRISK_EINVAL },
	[G_DEADLINE_EXCEEDED] = { "DEADLINE_EXCEEDED", 504, AMLRISK_ETIMEDOUT },
	[G_NOT_FOUND] = { "NOT_FOUND", 404, AMLRISK_ENOTFOUND },
	[G_ALREADY_EXISTS] = { "ALREADY_EXISTS", 409, AMLRISK_EBUSY },
	[G_PERMISSION_DENIED] = { "PERMISSION_DENIED", 403, AMLRISK_EAUTH },
	[G_RESOURCE_EXHAUSTED] = { "RESOURCE_EXHAUSTED", 503, AMLRISK_EFULL },
	[G_FAILED_PRECONDITION] = { "FAILED_PRECONDITION", 409, AMLRISK_ESTATE },
	[G_ABORTED] = { "ABORTED", 409, AMLRISK_EBUSY },
	[G_OUT_OF_RANGE] = { "OUT_OF_RANGE", 422, AMLRISK_EINVAL },
	[G_UNIMPLEMENTED] = { "UNIMPLEMENTED", 501, AMLRISK_EUNIMPL },
	[G_INTERNAL] = { "INTERNAL", 500, AMLRISK_EINTERNAL },
	[G_UNAVAILABLE] = { "UNAVAILABLE", 503, AMLRISK_EUNAVAIL },
	[G_DATA_LOSS] = { "DATA_LOSS", 500, AMLRISK_EINTERNAL },
	[G_UNAUTHENTICATED] = { "UNAUTHENTICATED", 401, AMLRISK_EAUTH },
};

static int
err_ok(int err)
{
	return err >= 0 && err < AMLRISK_ERR_COUNT;
}

const char *
amlrisk_strerror(int err)
{
	return err_ok(err) ? err_table[err].text : "unknown error";
}

const char *
amlrisk_errname(int err)
{
	return err_ok(err) ? err_table[err].name : "EUNKNOWN";
}

int
amlrisk_err_to_grpc(int err)
{
	return err_ok(err) ? err_table[err].grpc : G_UNKNOWN;
}

int
amlrisk_err_from_grpc(int code)
{
	return (code >= 0 && code < G_COUNT) ? grpc_table[code].err : AMLRISK_EINTERNAL;
}

const char *
amlrisk_grpc_name(int code)
{
	return (code >= 0 && code < G_COUNT) ? grpc_table[code].name : "UNKNOWN";
}

int
amlrisk_grpc_to_http(int code)
{
	return (code >= 0 && code < G_COUNT) ? grpc_table[code].http : 500;
}
