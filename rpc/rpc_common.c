/* rpc_common.c - pieces both ends of the RPC layer use: NNG errors onto the
 * project enum, TLS configuration, packing messages and envelopes. Called once
 * or twice per call; the stack buffer keeps small payloads off the heap. */
#include "rpc_impl.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "rpc.h"

int
rpc_err_from_nng(int rv)
{
	switch (rv) {
	case 0:
		return AMLRISK_OK;
	case NNG_ENOMEM:
	case NNG_ENOFILES:
	case NNG_ENOSPC:
		return AMLRISK_ENOMEM;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
	case NNG_ENOENT:
	case NNG_EBADTYPE:
	case NNG_ENOARG:
		return AMLRISK_EINVAL;
	case NNG_EADDRINUSE:
	case NNG_EBUSY:
		return AMLRISK_EBUSY;
	case NNG_ETIMEDOUT:
		return AMLRISK_ETIMEDOUT;
	case NNG_ECONNREFUSED:
	case NNG_ECONNRESET:
	case NNG_ECONNABORTED:
	case NNG_ECONNSHUT:
	case NNG_EUNREACHABLE:
		return AMLRISK_EUNAVAIL;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return AMLRISK_ECANCELED;
	case NNG_ENOTSUP:
		return AMLRISK_EUNIMPL;
	case NNG_EMSGSIZE:
		return AMLRISK_ETOOBIG;
	case NNG_EPROTO:
		return AMLRISK_EPROTO;
	case NNG_ESTATE:
		return AMLRISK_ESTATE;
	case NNG_EPERM:
	case NNG_ECRYPTO:
	case NNG_EPEERAUTH:
		return AMLRISK_EAUTH;
	default:
		return AMLRISK_EIO;
	}
}

int
rpc_url_is_tls(const char *url)
{
	return strncmp(url, "tls+tcp", 7) == 0;
}

/* Copies the host of "scheme://host:port" (brackets of an IPv6 literal
 * removed) into buf; AMLRISK_EINVAL when there is none or it does not fit. */
static int
url_host(const char *url, char *buf, size_t len)
{
	const char *h, *end;
	size_t n;

	if ((h = strstr(url, "://")) == NULL) {
		return AMLRISK_EINVAL;
	}
	h += 3;
	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else {
		end = strrchr(h, ':');
	}
	if (end == NULL || end == h || (n = (size_t)(end - h)) >= len) {
		return AMLRISK_EINVAL;
	}
	memcpy(buf, h, n);
	buf[n] = '\0';
	return AMLRISK_OK;
}

int
rpc_tls_config_make(nng_tls_config **out, int server, const char *url, const char *cert_key,
                    const char *ca, const char *server_name)
{
	nng_tls_config *cfg = NULL;
	char host[256];
	int rv = 0, err;

	if (server ? cert_key == NULL : ca == NULL) {
		return AMLRISK_EINVAL; /* a server needs its key, a client a CA to verify */
	}
	rv = nng_tls_config_alloc(&cfg, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT);
	if (rv != 0) {
		return rpc_err_from_nng(rv);
	}
	if (cert_key != NULL) {
		rv = nng_tls_config_cert_key_file(cfg, cert_key, NULL);
	}
	if (rv == 0 && !server && server_name == NULL) {
		if ((err = url_host(url, host, sizeof(host))) != AMLRISK_OK) {
			goto fail;
		}
		server_name = host;
	}
	if (rv == 0 && ca != NULL && (rv = nng_tls_config_ca_file(cfg, ca)) == 0) {
		rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
	}
	if (rv == 0 && !server) {
		rv = nng_tls_config_server_name(cfg, server_name);
	}
	if (rv != 0) {
		/* unreadable or invalid certificate files are the caller's input */
		err = (rv == NNG_ENOMEM) ? AMLRISK_ENOMEM : AMLRISK_EINVAL;
		goto fail;
	}
	*out = cfg;
	return AMLRISK_OK;
fail:
	nng_tls_config_free(cfg);
	return err;
}

int
rpc_tls_supported(void)
{
	nng_tls_config *cfg;

	if (nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT) != 0) {
		return 0;
	}
	nng_tls_config_free(cfg);
	return 1;
}

int
rpc_url_is_local(const char *url)
{
	struct in_addr v4;
	char host[256];

	if (strncmp(url, "ipc://", 6) == 0 || strncmp(url, "inproc://", 9) == 0) {
		return 1;
	}
	if ((strncmp(url, "tcp", 3) != 0 && strncmp(url, "tls+tcp", 7) != 0) ||
	    url_host(url, host, sizeof(host)) != AMLRISK_OK) {
		return 0;
	}
	if (inet_pton(AF_INET, host, &v4) == 1) {
		return (ntohl(v4.s_addr) >> 24) == 127;
	}
	return strcmp(host, "::1") == 0 || strcmp(host, "localhost") == 0;
}

const char *
rpc_strerror(int err)
{
	return err == AMLRISK_EBUSY ? "address already in use" : amlrisk_strerror(err);
}

int
rpc_packed_make(rpc_packed *p, const ProtobufCMessage *m, uint8_t *stack, size_t stack_len,
                size_t max)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	p->heap = NULL;
	if (n > max) {
		return AMLRISK_ETOOBIG;
	}
	if (n <= stack_len) {
		p->bin.data = stack;
	} else {
		if ((p->heap = malloc(n)) == NULL) {
			return AMLRISK_ENOMEM;
		}
		p->bin.data = p->heap;
	}
	p->bin.len = protobuf_c_message_pack(m, p->bin.data);
	return AMLRISK_OK;
}

void
rpc_packed_release(rpc_packed *p)
{
	free(p->heap);
	p->heap = NULL;
}

int
rpc_msg_pack(nng_msg **out, const ProtobufCMessage *env, size_t max)
{
	size_t n = protobuf_c_message_get_packed_size(env);
	nng_msg *msg;
	int rv;

	if (n > max) {
		return AMLRISK_ETOOBIG;
	}
	if ((rv = nng_msg_alloc(&msg, n)) != 0) {
		return rpc_err_from_nng(rv);
	}
	(void)protobuf_c_message_pack(env, nng_msg_body(msg));
	*out = msg;
	return AMLRISK_OK;
}
