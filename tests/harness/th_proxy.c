/* th_proxy.c - the fault-injection TCP relay (see the header). One thread
 * polls every socket; a few connections at test scale, so plain arrays and
 * poll() are all it needs. */
#include "th_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define PAIRS_MAX 64
#define BUF_SIZE  16384
#define TICK_MS   20

typedef struct pair {
	int fd[2]; /* 0: the client's side, 1: the server's side; -1 = unused */
} pair;

struct th_proxy {
	int lfd, port;
	struct sockaddr_in target;
	pthread_t thread;
	atomic_bool stop, frozen, drop;
	pair pairs[PAIRS_MAX];
};

static void
pair_close(pair *p)
{
	for (int i = 0; i < 2; i++) {
		if (p->fd[i] >= 0) {
			/* a reset, not an orderly close: the peer sees the link die */
			struct linger l = {1, 0};
			setsockopt(p->fd[i], SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			close(p->fd[i]);
		}
		p->fd[i] = -1;
	}
}

static void
accept_one(th_proxy *px)
{
	int c = accept(px->lfd, NULL, NULL), s;
	pair *slot = NULL;

	if (c < 0)
		return;
	for (int i = 0; i < PAIRS_MAX && slot == NULL; i++) {
		if (px->pairs[i].fd[0] < 0)
			slot = &px->pairs[i];
	}
	if (slot == NULL || (s = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		close(c);
		return;
	}
	if (connect(s, (const struct sockaddr *)&px->target, sizeof(px->target)) != 0) {
		close(s);
		close(c);
		return;
	}
	slot->fd[0] = c;
	slot->fd[1] = s;
}

/* Moves what is readable on side `from` of p to the other side; closes the
 * pair when either end is gone. */
static void
relay(pair *p, int from)
{
	char buf[BUF_SIZE];
	ssize_t n = read(p->fd[from], buf, sizeof(buf)), off = 0;

	if (n <= 0) {
		pair_close(p);
		return;
	}
	while (off < n) {
		ssize_t w = write(p->fd[!from], buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			pair_close(p);
			return;
		}
		off += w;
	}
}

static void *
proxy_main(void *arg)
{
	th_proxy *px = arg;
	struct pollfd fds[1 + 2 * PAIRS_MAX];

	while (!atomic_load(&px->stop)) {
		int n = 0;
		if (atomic_exchange(&px->drop, false)) {
			for (int i = 0; i < PAIRS_MAX; i++)
				pair_close(&px->pairs[i]);
		}
		if (atomic_load(&px->frozen)) {
			/* nothing moves: the kernel buffers fill and then stay full */
			usleep(TICK_MS * 1000);
			continue;
		}
		fds[n++] = (struct pollfd){.fd = px->lfd, .events = POLLIN};
		for (int i = 0; i < PAIRS_MAX; i++) {
			for (int k = 0; k < 2; k++)
				fds[n++] =
				        (struct pollfd){.fd = px->pairs[i].fd[k], .events = POLLIN};
		}
		if (poll(fds, (nfds_t)n, TICK_MS) <= 0)
			continue;
		if (fds[0].revents & POLLIN)
			accept_one(px);
		for (int i = 0; i < PAIRS_MAX; i++) {
			for (int k = 0; k < 2; k++) {
				struct pollfd *f = &fds[1 + 2 * i + k];
				if (f->fd >= 0 && px->pairs[i].fd[k] == f->fd &&
				    (f->revents & (POLLIN | POLLHUP | POLLERR)))
					relay(&px->pairs[i], k);
			}
		}
	}
	return NULL;
}

th_proxy *
th_proxy_start(const char *host, int port)
{
	th_proxy *px = calloc(1, sizeof(*px));
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int one = 1;

	assert_non_null(px);
	for (int i = 0; i < PAIRS_MAX; i++)
		px->pairs[i].fd[0] = px->pairs[i].fd[1] = -1;
	px->target.sin_family = AF_INET;
	px->target.sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, host, &px->target.sin_addr), 1);
	px->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(px->lfd >= 0);
	setsockopt(px->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(px->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(px->lfd, 64), 0);
	assert_int_equal(getsockname(px->lfd, (struct sockaddr *)&a, &len), 0);
	px->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&px->thread, NULL, proxy_main, px), 0);
	return px;
}

int
th_proxy_port(const th_proxy *p)
{
	return p->port;
}

void
th_proxy_freeze(th_proxy *p, bool frozen)
{
	atomic_store(&p->frozen, frozen);
}

void
th_proxy_drop_all(th_proxy *p)
{
	atomic_store(&p->drop, true);
}

void
th_proxy_stop(th_proxy *p)
{
	if (p == NULL)
		return;
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	for (int i = 0; i < PAIRS_MAX; i++)
		pair_close(&p->pairs[i]);
	close(p->lfd);
	free(p);
}
