/* ctl_out.c - amlctl's output: a generic protobuf-c message -> JSON walk over
 * the field descriptors (so --json follows the .proto with no per-command
 * code), and aligned text tables. Outputs are small (<= 1000 rows). */
#include "ctl.h"
#include "rpc_decode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amlrisk_fmt.h"

#define KV_WIDTH 16

static json_t *
field_value(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return json_integer((json_int_t) * (const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return json_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
		        protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
		return ev != NULL ? json_string(ev->name) : json_integer(*(const int *)p);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		json_t *v = json_string(s != NULL ? s : "");
		/* not UTF-8: keep the bytes visible rather than drop the field */
		return v != NULL ? v : json_string("(invalid UTF-8)");
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		return json_integer((json_int_t)b->len);
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
		return m != NULL ? ctl_json_from_msg(m) : json_null();
	}
	}
	return json_null();
}

json_t *
ctl_json_from_msg(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t *o = json_object();

	for (unsigned i = 0; o != NULL && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;
		json_t *v;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			const char *arr = *(char *const *)(base + f->offset);
			v = json_array();
			for (size_t k = 0; v != NULL && k < n; k++)
				json_array_append_new(
				        v, field_value(f, arr + k * rpc_decode_elt_size(f->type)));
		} else {
			v = field_value(f, base + f->offset);
		}
		json_object_set_new(o, f->name, v != NULL ? v : json_null());
	}
	return o;
}

/* Writes v at indent; reals as the shortest text that parses back the same
 * (amlrisk_fmt_double; jansson offers only a fixed precision). */
static void
emit(json_t *v, int indent)
{
	char num[40], *s;
	const char *key;
	json_t *item;
	size_t i, n;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (json_object_size(v) == 0) {
			fputs("{}", stdout);
			return;
		}
		fputs("{\n", stdout);
		n = 0;
		json_object_foreach(v, key, item)
		{
			json_t *k = json_string(key);
			s = k != NULL ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
			printf("%*s%s: ", indent + 2, "", s != NULL ? s : "\"?\"");
			free(s);
			json_decref(k);
			emit(item, indent + 2);
			fputs(++n < json_object_size(v) ? ",\n" : "\n", stdout);
		}
		printf("%*s}", indent, "");
		return;
	case JSON_ARRAY:
		if (json_array_size(v) == 0) {
			fputs("[]", stdout);
			return;
		}
		fputs("[\n", stdout);
		json_array_foreach(v, i, item)
		{
			printf("%*s", indent + 2, "");
			emit(item, indent + 2);
			fputs(i + 1 < json_array_size(v) ? ",\n" : "\n", stdout);
		}
		printf("%*s]", indent, "");
		return;
	case JSON_REAL: /* finite: jansson holds no other */
		fputs(ctl_num(num, sizeof(num), json_real_value(v)), stdout);
		return;
	default:
		s = json_dumps(v, JSON_ENCODE_ANY);
		fputs(s != NULL ? s : "null", stdout);
		free(s);
	}
}

void
ctl_json_print(json_t *v)
{
	emit(v, 0);
	fputs("\n", stdout);
	json_decref(v);
}

struct ctl_table {
	int ncols;
	const char *headers[CTL_CELLS_MAX];
	char **cells; /* rows * ncols */
	size_t rows, cap;
};

ctl_table *
ctl_table_create(int ncols, const char *const *headers)
{
	ctl_table *t = calloc(1, sizeof(*t));

	if (t == NULL || ncols > CTL_CELLS_MAX) {
		free(t);
		return NULL;
	}
	t->ncols = ncols;
	for (int i = 0; i < ncols; i++)
		t->headers[i] = headers[i];
	return t;
}

void
ctl_table_row(ctl_table *t, ...)
{
	va_list ap;

	if (t == NULL)
		return;
	if (t->rows == t->cap) {
		size_t cap = t->cap != 0 ? t->cap * 2 : 64;
		char **p = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*p));
		if (p == NULL)
			return;
		t->cells = p;
		t->cap = cap;
	}
	va_start(ap, t);
	for (int i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->rows * (size_t)t->ncols + (size_t)i] = strdup(s != NULL ? s : "");
	}
	va_end(ap);
	t->rows++;
}

void
ctl_table_print(ctl_table *t)
{
	size_t width[CTL_CELLS_MAX];

	if (t == NULL)
		return;
	for (int c = 0; c < t->ncols; c++) {
		const char *h = t->headers[c] + (t->headers[c][0] == '#');
		width[c] = strlen(h);
		for (size_t r = 0; r < t->rows; r++) {
			const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
			size_t len = s != NULL ? strlen(s) : 0;
			if (len > width[c])
				width[c] = len;
		}
	}
	for (size_t r = 0; t->rows > 0 && r <= t->rows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			bool right = t->headers[c][0] == '#';
			const char *s = r == 0 ? t->headers[c] + right
			                       : t->cells[(r - 1) * (size_t)t->ncols + (size_t)c];
			int w = (int)width[c];
			if (s == NULL)
				s = "";
			if (c == t->ncols - 1 && !right)
				printf("%s", s);
			else
				printf(right ? "%*s" : "%-*s", w, s);
			if (c < t->ncols - 1)
				printf("  ");
		}
		printf("\n");
	}
	for (size_t i = 0; i < t->rows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void
ctl_kv(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("%-*s", KV_WIDTH, key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

const char *
ctl_time(char *buf, size_t len, int64_t us)
{
	struct tm tm;
	time_t s = (time_t)(us / 1000000);

	if (us <= 0 || gmtime_r(&s, &tm) == NULL) {
		snprintf(buf, len, "-");
		return buf;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000 / 1000));
	return buf;
}

const char *
ctl_num(char *buf, size_t len, double v)
{
	amlrisk_fmt_double(buf, len, v);
	return buf;
}
