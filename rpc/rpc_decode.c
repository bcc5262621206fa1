/* rpc_decode.c - bounded protobuf decoding (see rpc_decode.h): a pre-scan that
 * walks the wire format once, mirroring what protobuf-c 1.4's unpack would
 * allocate, then the unpack itself under an allocator with the same budget.
 * Runs on every envelope and payload; for the usual small message the scan is
 * a few hundred nanoseconds next to the unpack. */
#include "rpc_decode.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"

/* Fields a message may have for exact per-field counting; counts of fields
 * past it share one counter (more conservative, never less safe). */
#define FIELDS_TRACKED 64
/* protobuf-c's ScannedMember, and its slabs: 16 on the stack, then 32, 64, ... */
#define SCANNED_MEMBER_SIZE 32
#define FIRST_SLAB          16

const rpc_decode_limits rpc_request_limits = {16, (size_t)1 << 20, RPC_DECODE_COST_MUL};
const rpc_decode_limits rpc_reply_limits = {16, (size_t)1 << 20, RPC_DECODE_REPLY_COST_MUL};

static const rpc_decode_limits envelope_limits = {3, RPC_BATCH_MAX, RPC_DECODE_COST_MUL};

typedef struct scan {
	const rpc_decode_limits *lim;
	size_t budget, cost;
	char *why;
	size_t whylen;
} scan;

static int __attribute__((format(printf, 3, 4))) scan_fail(scan *s, int err, const char *fmt, ...)
{
	va_list ap;

	if (s->why != NULL && s->whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(s->why, s->whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* What malloc'ing n bytes counts against the budget. */
static size_t
block(size_t n)
{
	return ((n + 15) & ~(size_t)15) + RPC_DECODE_BLOCK_OVERHEAD;
}

/* Adds n to the cost; AMLRISK_ETOOBIG once past the budget. */
static int
charge(scan *s, size_t n, const ProtobufCMessageDescriptor *d)
{
	s->cost += n;
	if (s->cost > s->budget) {
		return scan_fail(s, AMLRISK_ETOOBIG,
		                 "%s: unpacking would take over %zu bytes (%zu x its size + %zu)",
		                 d->name, s->budget, s->lim->cost_mul, RPC_DECODE_COST_BASE);
	}
	return AMLRISK_OK;
}

/* Reads a varint of at most max bytes at p (end bounds it). Returns its
 * length, 0 when unterminated. */
static size_t
varint(const uint8_t *p, const uint8_t *end, size_t max, uint64_t *v)
{
	uint64_t r = 0;
	size_t i;

	for (i = 0; i < max && p + i < end; i++) {
		r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			*v = r;
			return i + 1;
		}
	}
	return 0;
}

size_t
rpc_decode_elt_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4; /* 32-bit types, enums, protobuf_c_boolean */
	}
}

/* The wire type a scalar field is encoded with (alone, not packed). */
static int
scalar_wire_type(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return PROTOBUF_C_WIRE_TYPE_32BIT;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return PROTOBUF_C_WIRE_TYPE_64BIT;
	default:
		return PROTOBUF_C_WIRE_TYPE_VARINT;
	}
}

/* Elements of a packed repeated scalar field of n bytes at p; -1 if the
 * bytes cannot be one. */
static long long
packed_count(ProtobufCType t, const uint8_t *p, size_t n)
{
	size_t i, c = 0;

	switch (scalar_wire_type(t)) {
	case PROTOBUF_C_WIRE_TYPE_32BIT:
		return n % 4 == 0 ? (long long)(n / 4) : -1;
	case PROTOBUF_C_WIRE_TYPE_64BIT:
		return n % 8 == 0 ? (long long)(n / 8) : -1;
	default:
		for (i = 0; i < n; i++) {
			c += (p[i] & 0x80) == 0;
		}
		return (n == 0 || (p[n - 1] & 0x80) == 0) ? (long long)c : -1;
	}
}

static const ProtobufCFieldDescriptor *
field_find(const ProtobufCMessageDescriptor *d, uint32_t id, unsigned *index)
{
	for (unsigned i = 0; i < d->n_fields; i++) {
		if (d->fields[i].id == id) {
			*index = i;
			return &d->fields[i];
		}
	}
	return NULL;
}

/* What protobuf-c's slabs of scanned members cost for k fields on the wire. */
static size_t
slabs_cost(size_t k)
{
	size_t cap = FIRST_SLAB, size = FIRST_SLAB, cost = 0;

	while (k > cap) {
		size *= 2;
		cap += size;
		cost += block(size * SCANNED_MEMBER_SIZE);
	}
	return cost;
}

static int scan_msg(scan *s, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n,
                    unsigned depth);

/* One known field's value (data, dlen bytes after the tag, or after the
 * length prefix for wire type 2); adds to *count the elements it holds. */
static int
scan_field(scan *s, const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
           int wire, const uint8_t *data, size_t dlen, unsigned depth, size_t *count)
{
	bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
	long long c;

	*count = 1;
	switch (f->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		if (wire != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
			break;
		}
		return scan_msg(s, f->descriptor, data, dlen, depth + 1);
	case PROTOBUF_C_TYPE_STRING:
		if (wire != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
			break;
		}
		return charge(s, block(dlen + 1), d);
	case PROTOBUF_C_TYPE_BYTES:
		if (wire != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
			break;
		}
		return dlen > 0 ? charge(s, block(dlen), d) : AMLRISK_OK;
	default:
		if (repeated && wire == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
			if ((c = packed_count(f->type, data, dlen)) < 0) {
				return scan_fail(s, AMLRISK_EPROTO, "%s.%s: bad packed values",
				                 d->name, f->name);
			}
			*count = (size_t)c;
			return AMLRISK_OK;
		}
		if (wire == scalar_wire_type(f->type)) {
			return AMLRISK_OK;
		}
	}
	return scan_fail(s, AMLRISK_EPROTO, "%s.%s: wire type %d does not fit its type", d->name,
	                 f->name, wire);
}

/* The body of one message of d (n bytes at p), at nesting depth depth. */
static int
scan_msg(scan *s, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, unsigned depth)
{
	const uint8_t *end = p + n;
	size_t counts[FIELDS_TRACKED + 1], members = 0, unknown = 0, cnt;
	uint64_t seen = 0, v;
	int err;

	/* only the counters this message uses: most have a handful of fields */
	memset(counts, 0,
	       (d->n_fields < FIELDS_TRACKED ? d->n_fields + 1 : FIELDS_TRACKED + 1) *
	               sizeof(counts[0]));
	if (depth > s->lim->max_depth) {
		return scan_fail(s, AMLRISK_ETOOBIG, "%s: nested deeper than %u messages", d->name,
		                 s->lim->max_depth);
	}
	if ((err = charge(s, block(d->sizeof_message), d)) != 0 ||
	    ((d->n_fields + 7) / 8 > 16 &&
	     (err = charge(s, block((d->n_fields + 7) / 8), d)) != 0)) {
		return err;
	}
	while (p < end) {
		const ProtobufCFieldDescriptor *f;
		const uint8_t *data;
		size_t used, dlen, flen;
		unsigned idx = 0;
		uint32_t fid;
		int wire;

		if ((used = varint(p, end, 5, &v)) == 0 || v > UINT32_MAX || (v >> 3) == 0) {
			return scan_fail(s, AMLRISK_EPROTO, "%s: bad tag at offset %zu", d->name,
			                 (size_t)(n - (size_t)(end - p)));
		}
		wire = (int)(v & 7);
		fid = (uint32_t)(v >> 3);
		f = field_find(d, fid, &idx);
		p += used;
		data = p;
		switch (wire) {
		case PROTOBUF_C_WIRE_TYPE_VARINT:
			flen = dlen = varint(p, end, 10, &v);
			break;
		case PROTOBUF_C_WIRE_TYPE_64BIT:
			flen = dlen = (size_t)(end - p) >= 8 ? 8 : 0;
			break;
		case PROTOBUF_C_WIRE_TYPE_32BIT:
			flen = dlen = (size_t)(end - p) >= 4 ? 4 : 0;
			break;
		case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
			used = varint(p, end, 5, &v);
			if (used == 0 || v > (uint64_t)(end - p) - used) {
				flen = 0;
				break;
			}
			data = p + used;
			dlen = (size_t)v;
			flen = used + dlen;
			break;
		default:
			return scan_fail(s, AMLRISK_EPROTO, "%s: unsupported wire type %d", d->name,
			                 wire);
		}
		if (flen == 0) {
			return scan_fail(s, AMLRISK_EPROTO, "%s: field %u truncated", d->name,
			                 (unsigned)fid);
		}
		p += flen;
		members++;
		if (f == NULL) {
			unknown++;
			if ((err = charge(s, block(flen), d)) != 0) {
				return err;
			}
			continue;
		}
		if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED) {
			/* protobuf-c merges a repeated singular message, copying its
			 * arrays each time: quadratic, and never what an encoder writes */
			if (idx < 64 && (seen & ((uint64_t)1 << idx)) != 0) {
				return scan_fail(s, AMLRISK_EPROTO, "%s.%s: appears more than once",
				                 d->name, f->name);
			}
			seen |= idx < 64 ? (uint64_t)1 << idx : 0;
		}
		if ((err = scan_field(s, d, f, wire, data, dlen, depth, &cnt)) != 0) {
			return err;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t *c = &counts[idx < FIELDS_TRACKED ? idx : FIELDS_TRACKED];

			if ((*c += cnt) > s->lim->max_repeated) {
				return scan_fail(s, AMLRISK_ETOOBIG,
				                 "%s.%s: more than %zu elements", d->name, f->name,
				                 s->lim->max_repeated);
			}
		}
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		size_t c = counts[i < FIELDS_TRACKED ? i : FIELDS_TRACKED];

		if (f->label == PROTOBUF_C_LABEL_REPEATED && c > 0 &&
		    (err = charge(s, block(c * rpc_decode_elt_size(f->type)), d)) != 0) {
			return err;
		}
	}
	if ((err = charge(s, slabs_cost(members), d)) != 0 ||
	    (unknown > 0 &&
	     (err = charge(s, block(unknown * sizeof(ProtobufCMessageUnknownField)), d)) != 0)) {
		return err;
	}
	return AMLRISK_OK;
}

static size_t
budget_of(const rpc_decode_limits *lim, size_t len)
{
	return lim->cost_mul * len + RPC_DECODE_COST_BASE;
}

int
rpc_decode_scan(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                const rpc_decode_limits *lim, size_t *cost, char *why, size_t whylen)
{
	scan s = {lim, budget_of(lim, len), 0, why, whylen};
	int err;

	if (lim->max_depth == 0 || lim->max_depth > RPC_DECODE_DEPTH_MAX ||
	    len > (SIZE_MAX - RPC_DECODE_COST_BASE) / (lim->cost_mul + 1)) {
		return scan_fail(&s, AMLRISK_EINVAL, "bad decode limits");
	}
	if (len > 0 && buf == NULL) {
		return scan_fail(&s, AMLRISK_EINVAL, "no bytes");
	}
	if ((err = scan_msg(&s, d, buf, len, 1)) == AMLRISK_OK && cost != NULL) {
		*cost = s.cost;
	}
	return err;
}

/* The allocator of one unpack: counts like the scan, refuses past the budget. */
typedef struct budget_alloc {
	size_t budget, used;
	bool over, failed;
} budget_alloc;

static void *
budget_malloc(void *data, size_t size)
{
	budget_alloc *b = data;
	void *p;

	if (b->used + block(size) > b->budget) {
		b->over = true;
		return NULL;
	}
	b->used += block(size);
	if ((p = malloc(size > 0 ? size : 1)) == NULL) {
		b->failed = true;
	}
	return p;
}

static void
budget_free(void *data, void *p)
{
	(void)data;
	free(p);
}

int
rpc_decode(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
           const rpc_decode_limits *lim, ProtobufCMessage **out, char *why, size_t whylen)
{
	budget_alloc b = {budget_of(lim, len), 0, false, false};
	ProtobufCAllocator a = {budget_malloc, budget_free, &b};
	ProtobufCMessage *m;
	int err;

	if ((err = rpc_decode_scan(d, buf, len, lim, NULL, why, whylen)) != AMLRISK_OK) {
		return err;
	}
	if ((m = protobuf_c_message_unpack(d, &a, len, buf)) == NULL) {
		scan s = {lim, b.budget, b.used, why, whylen};

		if (b.failed) {
			return scan_fail(&s, AMLRISK_ENOMEM, "%s: out of memory", d->name);
		}
		if (b.over) {
			return scan_fail(&s, AMLRISK_ETOOBIG, "%s: unpacking took over %zu bytes",
			                 d->name, b.budget);
		}
		return scan_fail(&s, AMLRISK_EPROTO, "not a valid %s", d->name);
	}
	*out = m;
	return AMLRISK_OK;
}

static int __attribute__((format(printf, 4, 5)))
envelope_fail(ProtobufCMessage *m, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	protobuf_c_message_free_unpacked(m, NULL);
	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return AMLRISK_EPROTO;
}

/* The bounds of one call that the scan's limits do not express. */
static const char *
call_check(const Aml__V1__RpcCall *c)
{
	if (strlen(c->method) >= RPC_METHOD_MAX) {
		return "method name too long";
	}
	if (c->n_metadata > RPC_METADATA_MAX) {
		return "too many metadata entries";
	}
	if (c->call_id.len > RPC_CALL_ID_MAX) {
		return "call_id too long";
	}
	return NULL;
}

int
rpc_decode_request(const uint8_t *buf, size_t len, Aml__V1__RpcRequest **out, char *why,
                   size_t whylen)
{
	ProtobufCMessage *m = NULL;
	Aml__V1__RpcRequest *r;
	const char *bad = NULL;
	int err;

	err = rpc_decode(&aml__v1__rpc_request__descriptor, buf, len, &envelope_limits, &m, why,
	                 whylen);
	if (err != AMLRISK_OK) {
		return err;
	}
	r = (Aml__V1__RpcRequest *)m;
	if ((r->call != NULL) == (r->n_calls > 0)) {
		return envelope_fail(m, why, whylen,
		                     "malformed envelope: it holds one call or a batch of calls");
	}
	if (r->auth.len > RPC_AUTH_MAX) {
		return envelope_fail(m, why, whylen, "malformed envelope: auth over %d bytes",
		                     RPC_AUTH_MAX);
	}
	for (size_t i = 0; bad == NULL && i < r->n_calls; i++) {
		bad = call_check(r->calls[i]);
	}
	if (bad != NULL || (r->call != NULL && (bad = call_check(r->call)) != NULL)) {
		return envelope_fail(m, why, whylen, "malformed envelope: %s", bad);
	}
	*out = r;
	return AMLRISK_OK;
}

int
rpc_decode_response(const uint8_t *buf, size_t len, Aml__V1__RpcResponse **out, char *why,
                    size_t whylen)
{
	ProtobufCMessage *m = NULL;
	int err;

	err = rpc_decode(&aml__v1__rpc_response__descriptor, buf, len, &envelope_limits, &m, why,
	                 whylen);
	if (err != AMLRISK_OK) {
		return err;
	}
	if (((Aml__V1__RpcResponse *)m)->reply == NULL) {
		return envelope_fail(m, why, whylen, "malformed reply envelope: no reply");
	}
	*out = (Aml__V1__RpcResponse *)m;
	return AMLRISK_OK;
}
