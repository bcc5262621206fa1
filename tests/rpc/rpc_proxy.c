/* rpc_proxy.c - the tests' TCP forwarder (rpc_proxy.h): one poll(2) loop over
 * the listening socket, a wake-up pipe and up to PAIRS connection pairs. */
#include "rpc_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define PAIRS 16

struct tproxy {
	int lfd, wake[2], port, target;
	int fds[PAIRS][2]; /* client side, target side; -1 = free */
	atomic_int cut, stop, accepted;
	pthread_t th;
};

static int
dial_target(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void
pair_close(tproxy *p, int i)
{
	for (int s = 0; s < 2; s++) {
		if (p->fds[i][s] >= 0) {
			close(p->fds[i][s]);
			p->fds[i][s] = -1;
		}
	}
}

static void
accept_one(tproxy *p)
{
	int c = accept(p->lfd, NULL, NULL), t, i;

	if (c < 0) {
		return;
	}
	for (i = 0; i < PAIRS && p->fds[i][0] >= 0; i++) {
	}
	if (i == PAIRS || (t = dial_target(p->target)) < 0) {
		close(c);
		return;
	}
	p->fds[i][0] = c;
	p->fds[i][1] = t;
	atomic_fetch_add(&p->accepted, 1);
}

static void *
proxy_main(void *arg)
{
	tproxy *p = arg;
	struct pollfd pf[2 + 2 * PAIRS];
	char buf[65536];

	while (!atomic_load(&p->stop)) {
		int n = 2;

		if (atomic_exchange(&p->cut, 0)) {
			for (int i = 0; i < PAIRS; i++) {
				pair_close(p, i);
			}
		}
		pf[0] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
		pf[1] = (struct pollfd){.fd = p->wake[0], .events = POLLIN};
		for (int i = 0; i < PAIRS; i++) {
			for (int s = 0; s < 2; s++) {
				pf[n++] = (struct pollfd){.fd = p->fds[i][s], .events = POLLIN};
			}
		}
		if (poll(pf, (nfds_t)n, 1000) <= 0) {
			continue;
		}
		if (pf[1].revents != 0 && read(p->wake[0], buf, sizeof(buf)) < 0) {
			break;
		}
		if (pf[0].revents & POLLIN) {
			accept_one(p);
		}
		for (int i = 0; i < PAIRS; i++) {
			for (int s = 0; s < 2; s++) {
				struct pollfd *q = &pf[2 + 2 * i + s];
				ssize_t got;

				if (q->fd < 0 || q->revents == 0 || p->fds[i][s] != q->fd) {
					continue;
				}
				if ((got = read(q->fd, buf, sizeof(buf))) <= 0 ||
				    write(p->fds[i][1 - s], buf, (size_t)got) != got) {
					pair_close(p, i);
				}
			}
		}
	}
	for (int i = 0; i < PAIRS; i++) {
		pair_close(p, i);
	}
	return NULL;
}

tproxy *
tproxy_start(int target_port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	tproxy *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	memset(p->fds, -1, sizeof(p->fds));
	p->target = target_port;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((p->lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(p->lfd, 16), 0);
	assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&a, &len), 0);
	p->port = ntohs(a.sin_port);
	assert_int_equal(pipe(p->wake), 0);
	assert_int_equal(pthread_create(&p->th, NULL, proxy_main, p), 0);
	return p;
}

int
tproxy_port(const tproxy *p)
{
	return p->port;
}

int
tproxy_accepted(const tproxy *p)
{
	return atomic_load(&p->accepted);
}

void
tproxy_cut(tproxy *p)
{
	atomic_store(&p->cut, 1);
	assert_int_equal(write(p->wake[1], "c", 1), 1);
}

void
tproxy_stop(tproxy *p)
{
	if (p == NULL) {
		return;
	}
	atomic_store(&p->stop, 1);
	assert_int_equal(write(p->wake[1], "s", 1), 1);
	pthread_join(p->th, NULL);
	close(p->lfd);
	close(p->wake[0]);
	close(p->wake[1]);
	free(p);
}
