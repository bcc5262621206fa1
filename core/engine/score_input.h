/* score_input.h - what amlrisk-score reads: transactions as CSV with a header,
 * JSON lines or length-delimited aml.v1.Transaction protobuf (the simulator's
 * formats), and labels files. Private to the offline scorer. */
#ifndef SCORE_INPUT_H
#define SCORE_INPUT_H

#include <stddef.h>
#include <stdio.h>

#include "core_engine.h"

typedef enum score_format {
	SCORE_FMT_AUTO = 0,
	SCORE_FMT_CSV,
	SCORE_FMT_JSONL,
	SCORE_FMT_PROTOBUF,
} score_format;

/* "auto", "csv", "jsonl" or "protobuf" (also "pb"). 0 or AMLRISK_EINVAL. */
int score_format_parse(const char *s, score_format *out);
const char *score_format_name(score_format f);

/* Reads every transaction of f into b. name is the file's name in messages;
 * fmt AUTO picks by name, then by content. Stops at the first bad record with
 * AMLRISK_EINVAL and "NAME:LINE: what is wrong" (or "record N") in err.
 * *used (may be NULL) is set to the format read. Borrows f and b. */
int score_input_read(FILE *f, const char *name, score_format fmt, core_graph_builder *b,
                     score_format *used, char *err, size_t errlen);

/* Reads a labels file: one wallet id per line, blank lines ignored. */
int score_labels_read(FILE *f, const char *name, core_labels *l, char *err, size_t errlen);

#endif
