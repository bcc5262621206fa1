/* log_test.c - the shared log writer (common/amlrisk_log.h): every event is one
 * line whatever its values hold (quotes, backslashes, newlines, control bytes
 * from libpq, librdkafka or a hostile id), values are escaped or quoted by
 * where they stand, numbers format as printf does, levels filter, and a line
 * too long is cut whole. Captures stderr through a temporary file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "amlrisk_log.h"

static FILE *cap;
static int saved_fd = -1;

static int
setup(void **state)
{
	(void)state;
	cap = tmpfile();
	assert_non_null(cap);
	saved_fd = dup(STDERR_FILENO);
	assert_true(saved_fd >= 0);
	amlrisk_log_init(AMLRISK_LOG_DEBUG);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	close(saved_fd);
	fclose(cap);
	return 0;
}

/* From here to the next captured(), stderr goes to the capture file (cmocka
 * reports failures on stderr, so it is given back before any assertion). */
static void
capture(void)
{
	fflush(stderr);
	if (dup2(fileno(cap), STDERR_FILENO) < 0)
		abort();
}

/* Everything logged since capture(), as one string (caller frees). */
static char *
captured(void)
{
	static long from;
	dup2(saved_fd, STDERR_FILENO);
	long end = lseek(fileno(cap), 0, SEEK_END);
	assert_true(end >= from);
	char *s = malloc((size_t)(end - from) + 1);
	assert_non_null(s);
	assert_int_equal(pread(fileno(cap), s, (size_t)(end - from), from), end - from);
	s[end - from] = '\0';
	from = end;
	return s;
}

/* The key=value text of the one line logged since the last call: asserts it
 * is exactly one line, then returns what follows "<component> <event> ". */
static char *
one_line(const char *event)
{
	char *s = captured();
	size_t n = strlen(s);
	assert_true(n > 0);
	assert_int_equal(s[n - 1], '\n');
	assert_null(memchr(s, '\n', n - 1));
	s[n - 1] = '\0';
	char *at = strstr(s, event);
	assert_non_null(at);
	at += strlen(event) + 1;
	memmove(s, at, strlen(at) + 1);
	return s;
}

static void
expect(const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("logged [%s], want [%s]", got, want);
}

static void
test_values_escaped(void **state)
{
	(void)state;
	/* what libpq says when a server goes away: two lines and quotes */
	const char *pq = "server closed the connection unexpectedly\n\tThis probably means "
	                 "the server terminated \"abnormally\"\r\n";
	capture();
	amlrisk_log(AMLRISK_LOG_WARN, "consumer", "db.write_failed", "rows=%d error=\"%s\"", 5, pq);
	char *s = one_line("db.write_failed");
	expect(s, "rows=5 error=\"server closed the connection unexpectedly\\n\\tThis probably "
	          "means the server terminated \\\"abnormally\\\"\\r\\n\"");
	free(s);

	/* backslashes and every other control byte */
	capture();
	amlrisk_log(AMLRISK_LOG_INFO, "t", "ev", "v=\"%s\"",
	            "a\\b\x01\x1b[31m\x7f"
	            "end");
	s = one_line("ev");
	expect(s, "v=\"a\\\\b\\x01\\x1b[31m\\x7fend\"");
	free(s);

	/* a value right after '=' stays bare when it can, else it is quoted */
	capture();
	amlrisk_log(AMLRISK_LOG_INFO, "t", "ev", "a=%s b=%s c=%s d=%s e=%s", "plain-1.5",
	            "two words", "", "k=v", "x\ny");
	s = one_line("ev");
	expect(s, "a=plain-1.5 b=\"two words\" c=\"\" d=\"k=v\" e=\"x\\ny\"");
	free(s);

	/* text the caller composed keeps its form; only control bytes are escaped */
	capture();
	amlrisk_log(AMLRISK_LOG_INFO, "t", "ev", "partitions=%s %s", "0,1", "paused=1\nforged=1");
	s = one_line("ev");
	expect(s, "partitions=0,1 paused=1\\nforged=1");
	free(s);

	/* a forged event cannot be injected through a value */
	capture();
	amlrisk_log(AMLRISK_LOG_WARN, "consumer", "message.dead_lettered", "reason=\"%s\"",
	            "x\"\n2026-01-01T00:00:00.000Z error consumer fake.event a=1");
	s = one_line("message.dead_lettered");
	expect(s, "reason=\"x\\\"\\n2026-01-01T00:00:00.000Z error consumer fake.event a=1\"");
	free(s);

	/* precision bounds the value read */
	capture();
	amlrisk_log(AMLRISK_LOG_INFO, "t", "ev", "a=\"%.*s\" b=%.3s", 4, "abcdefgh", "xy\nz");
	s = one_line("ev");
	expect(s, "a=\"abcd\" b=\"xy\\n\"");
	free(s);
}

static void
test_numbers_as_printf(void **state)
{
	(void)state;
	capture();
	amlrisk_log(AMLRISK_LOG_INFO, "t", "ev",
	            "i=%d u=%u neg=%lld big=%llu z=%zu zd=%zd ld=%ld x=%x X=%08X o=%o f=%.3f g=%g "
	            "w=%5d l=%-4d| s=%05.1f c=%c q=\"%c\" pct=%% p=%p h=%hd hh=%hhu j=%jd t=%td",
	            -7, 42u, (long long)INT64_MIN, (unsigned long long)UINT64_MAX, (size_t)12,
	            (ssize_t)-3, 1234567890123L, 255u, 0xbeefu, 8u, 3.14159, 1e-7, 42, 7, 2.25, 'Q',
	            '\n', (void *)0, (short)-2, (unsigned char)250, (intmax_t)-9, (ptrdiff_t)11);
	char *s = one_line("ev");
	expect(s, "i=-7 u=42 neg=-9223372036854775808 big=18446744073709551615 z=12 zd=-3 "
	          "ld=1234567890123 x=ff X=0000BEEF o=10 f=3.142 g=1e-07 w=   42 l=7   | "
	          "s=002.2 c=Q q=\"\\n\" pct=% p=(nil) h=-2 hh=250 j=-9 t=11");
	free(s);
	/* '*' width and precision take their int arguments */
	capture();
	amlrisk_log(AMLRISK_LOG_INFO, "t", "ev", "a=%*d b=%.*f", 6, 99, 2, 1.005);
	s = one_line("ev");
	char want[64];
	snprintf(want, sizeof(want), "a=%*d b=%.*f", 6, 99, 2, 1.005);
	expect(s, want);
	free(s);
}

static void
test_levels_and_long_lines(void **state)
{
	(void)state;
	amlrisk_log_init(AMLRISK_LOG_WARN);
	capture();
	amlrisk_log(AMLRISK_LOG_INFO, "t", "hidden", "a=1");
	amlrisk_log(AMLRISK_LOG_DEBUG, "t", "hidden", "a=1");
	char *s = captured();
	expect(s, "");
	free(s);
	capture();
	amlrisk_log(AMLRISK_LOG_ERROR, "t", "shown", "a=1");
	s = captured();
	assert_non_null(strstr(s, " error t shown a=1\n"));
	free(s);
	amlrisk_log_init(AMLRISK_LOG_DEBUG);

	/* 3000 newlines: each would take two bytes escaped; the line is cut at
	 * its bound, never inside an escape, and still ends in one newline */
	char *big = malloc(3001);
	assert_non_null(big);
	memset(big, '\n', 3000);
	big[3000] = '\0';
	capture();
	amlrisk_log(AMLRISK_LOG_INFO, "t", "ev", "v=\"%s\"", big);
	free(big);
	s = captured();
	size_t n = strlen(s);
	assert_true(n <= 2048);
	assert_int_equal(s[n - 1], '\n');
	assert_null(memchr(s, '\n', n - 1));
	char *v = strstr(s, "v=\"");
	assert_non_null(v);
	size_t body = (size_t)(s + n - 1 - (v + 3));
	if (v[3 + body - 1] == '"')
		body--; /* the closing quote of the format fitted */
	assert_true(body > 1000);
	assert_int_equal(body % 2, 0); /* whole "\n" escapes only */
	for (size_t i = 0; i < body; i += 2)
		assert_memory_equal(v + 3 + i, "\\n", 2);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_values_escaped),
	        cmocka_unit_test(test_numbers_as_printf),
	        cmocka_unit_test(test_levels_and_long_lines),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
