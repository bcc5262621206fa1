/* fuzz_score_input.c - amlrisk-score's readers: transactions as CSV, JSON lines
 * or length-delimited protobuf, and labels files. The first input byte picks
 * the format (and labels); the rest is the file. Whatever is read is built into
 * a graph, so the builder sees hostile ids and amounts too. */
#include <stdio.h>

#include "core_engine.h"
#include "fuzz.h"
#include "score_input.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	core_graph_builder *b = NULL;
	core_labels *l = NULL;
	core_graph *g = NULL;
	char err[512];
	FILE *f;

	if (size < 2)
		return 0;
	if ((f = fmemopen((void *)(data + 1), size - 1, "rb")) == NULL)
		return 0;
	if (data[0] % 5 == 4) {
		if (core_labels_create(&l) == 0)
			(void)score_labels_read(f, "fuzz", l, err, sizeof(err));
		core_labels_destroy(l);
	} else if (core_graph_builder_create(&b, 0) == 0) {
		score_format fmt = (score_format)(data[0] % 4);
		if (score_input_read(f, "fuzz", fmt, b, NULL, err, sizeof(err)) == 0 &&
		    core_graph_builder_finish(&g, b, 1) == 0)
			core_graph_unref(g);
		else
			core_graph_builder_destroy(b);
	}
	fclose(f);
	return 0;
}
