/* amlrisk_fmt.h - doubles as the shortest text that reads back to the same
 * value, written as Python's repr() writes them (0.05, 75.99999999999999, 1e-05,
 * 1e+16, 100.0): the one number format of every JSON answer and stored JSON
 * document. Called per number on the gateway's hot path; no allocation. */
#ifndef AMLRISK_FMT_H
#define AMLRISK_FMT_H

#include <stddef.h>

/* Longest text amlrisk_fmt_double() writes, with its NUL
 * ("-2.2250738585072014e-308" is 24 characters). */
#define AMLRISK_FMT_DOUBLE_MAX 32

/* Writes v into buf (cap bytes, NUL-terminated): the fewest significant digits
 * that strtod() reads back as exactly v, the nearest to v when several have
 * that many; fixed notation for decimal exponents -4 to 15 ("0.0001",
 * "1000000000000000.0", an integral value with ".0"), else "d.ddde+XX"
 * ("1e-05", "1.5e+300"); "-0.0", and "nan", "inf", "-inf" (not JSON: callers
 * writing JSON check isfinite() first). Returns the length, or 0 with buf
 * set to "" (when cap > 0) if cap is below AMLRISK_FMT_DOUBLE_MAX. */
size_t amlrisk_fmt_double(char *buf, size_t cap, double v);

#endif
