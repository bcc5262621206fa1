/* amlrisk_err.h - the project's one error enum, and the single table that maps
 * it to gRPC status codes (the RPC wire) and HTTP statuses (the gateway edge).
 * Library errors (libpq, librdkafka, NNG, MHD) are mapped onto it at the boundary. */
#ifndef AMLRISK_ERR_H
#define AMLRISK_ERR_H

typedef enum amlrisk_err {
	AMLRISK_OK = 0,
	AMLRISK_EINVAL,     /* bad argument or input: INVALID_ARGUMENT, 400/422 */
	AMLRISK_ENOMEM,     /* allocation failed or a cap was reached: RESOURCE_EXHAUSTED */
	AMLRISK_EDB,        /* PostgreSQL error: UNAVAILABLE */
	AMLRISK_EKAFKA,     /* Kafka error: UNAVAILABLE */
	AMLRISK_ENOTFOUND,  /* no such wallet, run, method: NOT_FOUND */
	AMLRISK_EIO,        /* file or socket I/O: UNAVAILABLE */
	AMLRISK_ETIMEDOUT,  /* deadline passed: DEADLINE_EXCEEDED */
	AMLRISK_EBUSY,      /* conflicting operation running: ABORTED */
	AMLRISK_EUNAVAIL,   /* peer or service not reachable: UNAVAILABLE */
	AMLRISK_ETOOBIG,    /* message or body over its bound: RESOURCE_EXHAUSTED, 413 */
	AMLRISK_EPROTO,     /* malformed encoding (protobuf, envelope): INVALID_ARGUMENT */
	AMLRISK_ESTATE,     /* precondition not met (no graph, no run): FAILED_PRECONDITION */
	AMLRISK_EFULL,      /* queue or backlog full: RESOURCE_EXHAUSTED, 503 */
	AMLRISK_EUNIMPL,    /* unknown method: UNIMPLEMENTED */
	AMLRISK_EAUTH,      /* missing or wrong credentials: UNAUTHENTICATED, 401 */
	AMLRISK_EINTERNAL,  /* a bug or an impossible state: INTERNAL */
	AMLRISK_ECANCELED,  /* shutting down: CANCELLED */
	AMLRISK_ERR_COUNT
} amlrisk_err;

/* A static, human-readable description of err; never NULL. */
const char *amlrisk_strerror(int err);
/* The stable short name, e.g. "EINVAL"; never NULL. */
const char *amlrisk_errname(int err);

/* gRPC status code (aml.v1.StatusCode numbers) for err. */
int amlrisk_err_to_grpc(int err);
/* The project error for a gRPC status code; unknown codes map to EINTERNAL. */
int amlrisk_err_from_grpc(int grpc_code);
/* gRPC code name, e.g. "INVALID_ARGUMENT"; "UNKNOWN" for out-of-range codes. */
const char *amlrisk_grpc_name(int grpc_code);
/* HTTP status the gateway answers for a gRPC status code. */
int amlrisk_grpc_to_http(int grpc_code);

#endif
