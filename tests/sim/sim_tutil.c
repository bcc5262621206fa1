/* sim_tutil.c - simulator test helpers: fork/exec with captured stderr and a
 * controlled environment, in-memory generation through open_memstream(), and
 * reading records back through the simulator's own reader. */
#include "sim_tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "amlrisk_err.h"

static void
copy_str(char *dst, size_t dstlen, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	assert_true(n < dstlen);
	memcpy(dst, src ? src : "", n + 1);
}

static void
to_tu(tu_tx *t, const Aml__V1__Transaction *tx)
{
	copy_str(t->tx_id, sizeof(t->tx_id), tx->tx_id);
	copy_str(t->sender, sizeof(t->sender), tx->sender);
	copy_str(t->receiver, sizeof(t->receiver), tx->receiver);
	copy_str(t->amount, sizeof(t->amount), tx->amount);
	copy_str(t->asset, sizeof(t->asset), tx->asset);
	t->ts = tx->timestamp_us;
}

int
tu_run(const char *const *args, const char *const *env, const char *out_path, char **err,
       int timeout_s)
{
	return tu_run_in(args, env, NULL, out_path, err, timeout_s);
}

int
tu_run_in(const char *const *args, const char *const *env, const char *in_path,
          const char *out_path, char **err, int timeout_s)
{
	char path[1024], errpath[] = "/tmp/sim_test_err.XXXXXX";
	const char *bin = getenv("AMLRISK_BIN");
	if (bin == NULL)
		fail_msg("AMLRISK_BIN is not set: run through ctest");
	snprintf(path, sizeof(path), "%s/amlrisk-sim", bin);
	int efd = mkstemp(errpath);
	assert_true(efd >= 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ofd =
		        open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int ifd = open(in_path ? in_path : "/dev/null", O_RDONLY);
		if (ofd < 0 || ifd < 0)
			_exit(126);
		dup2(ifd, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
			const char *eq = strchr(env[i], '=');
			if (eq == NULL) {
				unsetenv(env[i]);
			} else {
				char k[256];
				snprintf(k, sizeof(k), "%.*s", (int)(eq - env[i]), env[i]);
				setenv(k, eq + 1, 1);
			}
		}
		const char *argv[128];
		size_t n = 0;
		argv[n++] = "amlrisk-sim";
		for (size_t i = 0; args[i] != NULL && n < 127; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		execv(path, (char *const *)argv);
		_exit(127);
	}
	int status = 0;
	time_t end = time(NULL) + timeout_s;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (time(NULL) > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = -1;
			break;
		}
		usleep(20000);
	}
	close(efd);
	if (err != NULL)
		*err = tu_slurp(errpath, NULL);
	unlink(errpath);
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

char *
tu_generate(const sim_gen_opts *o, sim_format fmt, size_t *len)
{
	char *buf = NULL, err[512];
	size_t n = 0;
	sim_gen *g = NULL;
	sim_writer *w = NULL;
	Aml__V1__Transaction tx;
	FILE *f = open_memstream(&buf, &n);
	assert_non_null(f);
	if (sim_gen_create(&g, o, err, sizeof(err)) != AMLRISK_OK)
		fail_msg("sim_gen_create: %s", err);
	assert_int_equal(sim_writer_create(&w, f, fmt), AMLRISK_OK);
	while (sim_gen_next(g, &tx) == AMLRISK_OK)
		assert_int_equal(sim_writer_write(w, &tx), AMLRISK_OK);
	assert_int_equal(sim_writer_finish(w), AMLRISK_OK);
	sim_writer_destroy(w);
	sim_gen_destroy(g);
	assert_int_equal(fclose(f), 0);
	*len = n;
	return buf;
}

/* what fn writes for o, as a malloc'ed string */
static char *
side_text(const sim_gen_opts *o, int (*fn)(const sim_gen *, FILE *))
{
	char *buf = NULL, err[512];
	size_t n = 0;
	sim_gen *g = NULL;
	FILE *f = open_memstream(&buf, &n);
	assert_non_null(f);
	if (sim_gen_create(&g, o, err, sizeof(err)) != AMLRISK_OK)
		fail_msg("sim_gen_create: %s", err);
	assert_int_equal(fn(g, f), AMLRISK_OK);
	sim_gen_destroy(g);
	assert_int_equal(fclose(f), 0);
	return buf;
}

char *
tu_truth(const sim_gen_opts *o)
{
	return side_text(o, sim_gen_truth_write);
}

char *
tu_labels(const sim_gen_opts *o)
{
	return side_text(o, sim_gen_labels_write);
}

tu_tx *
tu_read(const char *buf, size_t len, sim_format fmt, sim_format *detected, size_t *n)
{
	char err[512];
	sim_reader *r = NULL;
	Aml__V1__Transaction *tx;
	size_t cnt = 0, cap = 1024;
	tu_tx *v = malloc(cap * sizeof(*v));
	assert_non_null(v);
	FILE *f = fmemopen((void *)buf, len ? len : 1, "rb");
	assert_non_null(f);
	if (len == 0) { /* fmemopen rejects size 0: read the one byte away */
		fclose(f);
		f = fopen("/dev/null", "rb");
		assert_non_null(f);
	}
	if (sim_reader_create(&r, f, fmt, err, sizeof(err)) != AMLRISK_OK)
		fail_msg("sim_reader_create: %s", err);
	if (detected != NULL)
		*detected = sim_reader_format(r);
	int rv;
	while ((rv = sim_reader_next(r, &tx, err, sizeof(err))) == AMLRISK_OK) {
		if (cnt == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
			assert_non_null(v);
		}
		to_tu(&v[cnt++], tx);
	}
	if (rv != AMLRISK_ENOTFOUND)
		fail_msg("reading back: %s", err);
	sim_reader_destroy(r);
	fclose(f);
	*n = cnt;
	return v;
}

tu_tx *
tu_gen_all(const sim_gen_opts *o, size_t *n)
{
	char err[512];
	sim_gen *g = NULL;
	Aml__V1__Transaction tx;
	if (sim_gen_create(&g, o, err, sizeof(err)) != AMLRISK_OK)
		fail_msg("sim_gen_create: %s", err);
	size_t total = sim_gen_total(g), cnt = 0;
	tu_tx *v = malloc((total ? total : 1) * sizeof(*v));
	assert_non_null(v);
	while (sim_gen_next(g, &tx) == AMLRISK_OK) {
		assert_true(cnt < total);
		to_tu(&v[cnt++], &tx);
	}
	assert_int_equal(cnt, total);
	sim_gen_destroy(g);
	*n = cnt;
	return v;
}

char *
tu_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0, r;
	char *buf = malloc(cap + 1);
	assert_non_null(buf);
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
	}
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

char tu_dir[256];

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

int
tu_dir_setup(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/sim_test.XXXXXX";
	if (mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(tu_dir, sizeof(tu_dir), "%s", tmpl);
	return 0;
}

int
tu_dir_teardown(void **state)
{
	(void)state;
	if (strncmp(tu_dir, "/tmp/sim_test.", 14) == 0) /* only what tu_dir_setup made */
		nftw(tu_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

void
tu_path(char *out, size_t outlen, const char *name)
{
	snprintf(out, outlen, "%s/%s", tu_dir, name);
}

void
tu_assert_tx_equal(const tu_tx *a, const tu_tx *b)
{
	assert_string_equal(a->tx_id, b->tx_id);
	assert_string_equal(a->sender, b->sender);
	assert_string_equal(a->receiver, b->receiver);
	assert_string_equal(a->amount, b->amount);
	assert_string_equal(a->asset, b->asset);
	assert_true(a->ts == b->ts);
}
