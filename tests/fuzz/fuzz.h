/* fuzz.h - the one entry point every harness in tests/fuzz defines, as
 * libFuzzer calls it (clang -fsanitize=fuzzer, `make fuzz`) and as the replay
 * driver calls it over the checked-in corpus in every test run (any compiler,
 * with the sanitizers in `make test-asan`). */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Feeds one input; must return 0 and never crash, leak or hang, whatever the
 * bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Copies data into a fresh malloc()ed buffer with a NUL after size bytes, for
 * parsers that take C strings or FILE streams; NULL when out of memory. */
char *fuzz_strndup(const uint8_t *data, size_t size);

#endif
