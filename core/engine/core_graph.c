/* core_graph.c - the wallet graph: a builder fed one transaction at a time
 * (1M-10M rows streamed from COPY; wallet ids interned on two threads), then
 * two stable counting sorts into deduplicated CSR rows both ways. Immutable
 * and reference counted once built. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "amlrisk_err.h"
#include "core_impl.h"

#define TX_MAX      (UINT32_MAX - 1u) /* CSR offsets are 32-bit */
#define SHARD_BITS  3                 /* 8 intern tables; a wallet's hash picks one */
#define SHARDS      (1u << SHARD_BITS)
#define LOCAL_MAX   (CORE_WALLETS_MAX / SHARDS) /* a builder id is local * SHARDS + shard */
#define STAGE_ROWS  4096
#define STAGE_STRS  (2 * STAGE_ROWS)
#define HELPER_ROWS 200000 /* rows before a second thread starts interning */

/* The rows staged since the last flush: their wallet bytes copied, hashed,
 * and listed by shard. */
typedef struct stage {
	char *bytes;
	size_t len, cap;
	uint32_t off[STAGE_STRS], slen[STAGE_STRS]; /* a stage holds under 4 GiB */
	uint64_t hash[STAGE_STRS];
	uint32_t id[STAGE_STRS];           /* builder ids, once interned */
	uint16_t list[SHARDS][STAGE_STRS]; /* the strings of each shard, ascending */
	uint32_t nlist[SHARDS];
	double amount[STAGE_ROWS];
	bool self[STAGE_ROWS];
	size_t rows;
	uint64_t pos; /* position of the stage's first string: 2 * rows before it */
} stage;

/* Rows are staged STAGE_ROWS at a time, then each shard's strings are
 * interned into its own table. From HELPER_ROWS rows on (with more than one
 * CPU) a helper thread interns a full stage while the caller fills the
 * other one, and the caller takes the shards the helper has not reached
 * when that one is full. A shard's ids follow the first appearance of its
 * wallets, and so does the order the shards are merged in at finish: the ids
 * never depend on the threads. */
struct core_graph_builder {
	core_intern ids[SHARDS];
	uint64_t *first[SHARDS]; /* per shard id: position of its first appearance */
	size_t first_cap[SHARDS];
	/* builder ids; one entry per transaction that is not a self-transfer */
	uint32_t *src, *dst;
	double *amount;
	size_t len, cap;
	stage *st[2];
	unsigned cur;          /* the stage being filled; the other one is published when pending */
	bool pending;          /* stage gen & 1 is published and not yet retired */
	uint64_t pos;          /* strings published so far */
	size_t rows_per_stage; /* STAGE_ROWS with the helper, fewer before (less memory) */
	int failed;            /* sticky: an interning error of an earlier flush */
	core_graph_stats stats;
	bool have_ts;
	/* the helper: takes shard tasks of generation gen while there are some */
	pthread_t helper;
	bool helper_on, quit;
	pthread_mutex_t mu;
	pthread_cond_t work, done_cv;
	uint64_t gen;           /* under mu */
	_Atomic uint64_t claim; /* gen << 32 | next shard task */
	atomic_uint done;       /* shard tasks finished of this generation */
	atomic_int err;
};

static stage *
stage_new(void)
{
	stage *st = calloc(1, sizeof *st);
	if (st == NULL)
		return NULL;
	st->cap = 64 * 1024;
	if ((st->bytes = malloc(st->cap)) == NULL) {
		free(st);
		return NULL;
	}
	return st;
}

int
core_graph_builder_create(core_graph_builder **out, size_t tx_hint)
{
	int rv = AMLRISK_ENOMEM;
	core_graph_builder *b = calloc(1, sizeof *b);
	if (b == NULL)
		return AMLRISK_ENOMEM;
	if (pthread_mutex_init(&b->mu, NULL) != 0) {
		free(b);
		return AMLRISK_ENOMEM;
	}
	pthread_cond_init(&b->work, NULL);
	pthread_cond_init(&b->done_cv, NULL);
	if (tx_hint > TX_MAX)
		tx_hint = TX_MAX;
	for (unsigned k = 0; k < SHARDS; k++) {
		if ((rv = core_intern_init(&b->ids[k], tx_hint / 8 / SHARDS + 16)) != 0)
			goto fail;
		b->first_cap[k] = b->ids[k].id_cap;
		if ((b->first[k] = core_mem_alloc(b->first_cap[k] * sizeof(uint64_t))) == NULL) {
			rv = AMLRISK_ENOMEM;
			goto fail;
		}
	}
	rv = AMLRISK_ENOMEM;
	b->cap = tx_hint > STAGE_ROWS ? tx_hint : STAGE_ROWS;
	b->src = core_mem_alloc(b->cap * sizeof(uint32_t));
	b->dst = core_mem_alloc(b->cap * sizeof(uint32_t));
	b->amount = core_mem_alloc(b->cap * sizeof(double));
	if (b->src == NULL || b->dst == NULL || b->amount == NULL)
		goto fail;
	/* one stage serves as both until the helper starts */
	if ((b->st[0] = b->st[1] = stage_new()) == NULL)
		goto fail;
	b->cur = 1; /* generation g publishes stage g & 1 */
	b->rows_per_stage = CORE_INTERN_BATCH / 2;
	*out = b;
	return AMLRISK_OK;
fail:
	core_graph_builder_destroy(b);
	return rv;
}

/* Stops the helper, if running. */
static void
helper_stop(core_graph_builder *b)
{
	if (!b->helper_on)
		return;
	pthread_mutex_lock(&b->mu);
	b->quit = true;
	pthread_cond_signal(&b->work);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->helper, NULL);
	b->helper_on = false;
}

/* Frees the stages (once no more rows come). */
static void
builder_stages_free(core_graph_builder *b)
{
	for (int i = 0; i < 2; i++) {
		if (b->st[i] != NULL && (i == 0 || b->st[1] != b->st[0])) {
			free(b->st[i]->bytes);
			free(b->st[i]);
		}
	}
	b->st[0] = b->st[1] = NULL;
}

void
core_graph_builder_destroy(core_graph_builder *b)
{
	if (b == NULL)
		return;
	helper_stop(b);
	for (unsigned k = 0; k < SHARDS; k++) {
		core_intern_fini(&b->ids[k]);
		core_mem_free(b->first[k]);
	}
	core_mem_free(b->src);
	core_mem_free(b->dst);
	core_mem_free(b->amount);
	builder_stages_free(b);
	pthread_cond_destroy(&b->work);
	pthread_cond_destroy(&b->done_cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

uint64_t
core_graph_builder_tx_count(const core_graph_builder *b)
{
	return b->stats.txs;
}

/* Room for STAGE_ROWS more transactions. */
static int
builder_room(core_graph_builder *b)
{
	if (b->len + STAGE_ROWS <= b->cap)
		return AMLRISK_OK;
	size_t nc = b->cap * 2;
	uint32_t *s = core_mem_realloc(b->src, nc * sizeof(uint32_t));
	if (s == NULL)
		return AMLRISK_ENOMEM;
	b->src = s;
	uint32_t *d = core_mem_realloc(b->dst, nc * sizeof(uint32_t));
	if (d == NULL)
		return AMLRISK_ENOMEM;
	b->dst = d;
	double *a = core_mem_realloc(b->amount, nc * sizeof(double));
	if (a == NULL)
		return AMLRISK_ENOMEM;
	b->amount = a;
	b->cap = nc;
	return AMLRISK_OK;
}

/* Interns the staged strings of shard k into its table, in stage order,
 * noting where each new wallet first appeared. Touches only shard k's state
 * and the stage's ids of that shard. */
static int
shard_intern(core_graph_builder *b, stage *st, unsigned k)
{
	const char *ptr[CORE_INTERN_BATCH];
	size_t len[CORE_INTERN_BATCH];
	uint64_t h[CORE_INTERN_BATCH];
	uint32_t id[CORE_INTERN_BATCH];
	core_intern *t = &b->ids[k];
	int rv;
	for (uint32_t i0 = 0; i0 < st->nlist[k]; i0 += CORE_INTERN_BATCH) {
		uint32_t n = st->nlist[k] - i0 < CORE_INTERN_BATCH ? st->nlist[k] - i0
		                                                   : CORE_INTERN_BATCH;
		const uint16_t *l = st->list[k] + i0;
		uint32_t known = t->count;
		for (uint32_t i = 0; i < n; i++) {
			ptr[i] = st->bytes + st->off[l[i]];
			len[i] = st->slen[l[i]];
			h[i] = st->hash[l[i]];
		}
		if ((rv = core_intern_put_many(t, ptr, len, h, n, id)) != 0)
			return rv;
		if (t->count > LOCAL_MAX)
			return AMLRISK_ETOOBIG;
		if (t->count > b->first_cap[k]) {
			size_t nc = b->first_cap[k] * 2 > t->count ? b->first_cap[k] * 2 : t->count;
			uint64_t *f = core_mem_realloc(b->first[k], nc * sizeof(uint64_t));
			if (f == NULL)
				return AMLRISK_ENOMEM;
			b->first[k] = f;
			b->first_cap[k] = nc;
		}
		for (uint32_t i = 0; i < n; i++) {
			if (id[i] == known) /* new ids come in order of first appearance */
				b->first[k][known++] = st->pos + l[i];
			st->id[l[i]] = id[i] * SHARDS + k;
		}
	}
	return AMLRISK_OK;
}

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Takes and runs shard tasks of generation gen until none is left. */
static void
tasks_run(core_graph_builder *b, uint64_t gen)
{
	for (;;) {
		uint64_t c = atomic_load(&b->claim);
		if (c >> 32 != (gen & UINT32_MAX) || (c & UINT32_MAX) >= SHARDS)
			return;
		if (!atomic_compare_exchange_weak(&b->claim, &c, c + 1))
			continue;
		int rv = shard_intern(b, b->st[gen & 1], (unsigned)(c & UINT32_MAX)), zero = 0;
		if (rv != 0)
			atomic_compare_exchange_strong(&b->err, &zero, rv);
		if (atomic_fetch_add(&b->done, 1) + 1 == SHARDS) {
			pthread_mutex_lock(&b->mu);
			pthread_cond_signal(&b->done_cv);
			pthread_mutex_unlock(&b->mu);
		}
	}
}

static void *
helper_main(void *arg)
{
	core_graph_builder *b = arg;
	uint64_t seen = 0;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (b->gen == seen && !b->quit)
			pthread_cond_wait(&b->work, &b->mu);
		if (b->quit)
			break;
		seen = b->gen;
		pthread_mutex_unlock(&b->mu);
		tasks_run(b, seen);
		pthread_mutex_lock(&b->mu);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

/* Finishes the published stage, if any: takes the shards nobody has taken
 * yet, waits for the others, appends the stage's edges and empties it. */
static int
stage_retire(core_graph_builder *b)
{
	int rv;
	if (!b->pending)
		return AMLRISK_OK;
	b->pending = false;
	stage *st = b->st[b->gen & 1];
	tasks_run(b, b->gen);
	for (int spin = 0; atomic_load(&b->done) != SHARDS && spin < 64; spin++)
		cpu_relax();
	pthread_mutex_lock(&b->mu);
	while (atomic_load(&b->done) != SHARDS)
		pthread_cond_wait(&b->done_cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	if ((rv = atomic_load(&b->err)) != 0 || (rv = builder_room(b)) != 0)
		return rv;
	for (size_t r = 0; r < st->rows; r++) {
		if (st->self[r])
			continue;
		b->src[b->len] = st->id[2 * r];
		b->dst[b->len] = st->id[2 * r + 1];
		b->amount[b->len] = st->amount[r];
		b->len++;
	}
	st->rows = 0;
	st->len = 0;
	for (unsigned k = 0; k < SHARDS; k++)
		st->nlist[k] = 0;
	return AMLRISK_OK;
}

/* Publishes the stage being filled once the one before is retired, and
 * switches to the other; without a helper, interns it right away. */
static int
builder_flush(core_graph_builder *b)
{
	stage *st = b->st[b->cur];
	int rv;
	if ((rv = stage_retire(b)) != 0 || st->rows == 0)
		return rv;
	if (!b->helper_on && b->pos >= 2 * HELPER_ROWS && sysconf(_SC_NPROCESSORS_ONLN) > 1) {
		stage *other = b->st[0] != b->st[1] ? b->st[b->cur ^ 1] : stage_new();
		if (other != NULL) {
			b->st[b->cur ^ 1] = other;
			b->helper_on = pthread_create(&b->helper, NULL, helper_main, b) == 0;
			if (b->helper_on)
				b->rows_per_stage = STAGE_ROWS;
		}
	}
	st->pos = b->pos;
	b->pos += 2 * st->rows;
	pthread_mutex_lock(&b->mu);
	uint64_t gen = ++b->gen;
	atomic_store(&b->claim, (gen & UINT32_MAX) << 32);
	atomic_store(&b->done, 0);
	pthread_cond_signal(&b->work);
	pthread_mutex_unlock(&b->mu);
	b->pending = true;
	b->cur ^= 1;
	return b->helper_on ? AMLRISK_OK : stage_retire(b);
}

/* Copies, hashes and lists string i of the stage. */
static int
stage_put(stage *st, size_t i, const char *s, size_t len)
{
	if (st->len + len > st->cap) {
		size_t nc = st->cap * 2 + len;
		char *ns = realloc(st->bytes, nc);
		if (ns == NULL)
			return AMLRISK_ENOMEM;
		st->bytes = ns;
		st->cap = nc;
	}
	memcpy(st->bytes + st->len, s, len);
	st->off[i] = (uint32_t)st->len;
	st->slen[i] = (uint32_t)len;
	st->len += len;
	uint64_t h = core_intern_hash(s, len);
	unsigned k = CORE_INTERN_SHARD(h, SHARD_BITS);
	st->hash[i] = h;
	st->list[k][st->nlist[k]++] = (uint16_t)i;
	return AMLRISK_OK;
}

int
core_graph_builder_add_tx(core_graph_builder *b, const core_tx *tx)
{
	int rv;
	stage *st = b->st[b->cur];
	if (!core_wallet_ok(tx->sender, tx->sender_len) ||
	    !core_wallet_ok(tx->receiver, tx->receiver_len) || !isfinite(tx->amount) ||
	    tx->amount < 0)
		return AMLRISK_EINVAL;
	if (b->failed != 0)
		return b->failed;
	if (b->stats.txs >= TX_MAX)
		return AMLRISK_ETOOBIG;
	if ((rv = stage_put(st, 2 * st->rows, tx->sender, tx->sender_len)) != 0 ||
	    (rv = stage_put(st, 2 * st->rows + 1, tx->receiver, tx->receiver_len)) != 0) {
		/* the sender may be listed already: drop the row's strings */
		for (unsigned k = 0; k < SHARDS; k++)
			while (st->nlist[k] > 0 && st->list[k][st->nlist[k] - 1] >= 2 * st->rows)
				st->nlist[k]--;
		return rv;
	}
	bool self = tx->sender_len == tx->receiver_len &&
	            memcmp(tx->sender, tx->receiver, tx->sender_len) == 0;
	st->amount[st->rows] = tx->amount;
	st->self[st->rows] = self;
	st->rows++;
	b->stats.txs++;
	b->stats.self_txs += self;
	if (tx->seq > b->stats.max_seq)
		b->stats.max_seq = tx->seq;
	if (tx->timestamp_us != 0) {
		if (!b->have_ts || tx->timestamp_us < b->stats.min_ts_us)
			b->stats.min_ts_us = tx->timestamp_us;
		if (!b->have_ts || tx->timestamp_us > b->stats.max_ts_us)
			b->stats.max_ts_us = tx->timestamp_us;
		b->have_ts = true;
	}
	if (st->rows == b->rows_per_stage && (rv = builder_flush(b)) != 0)
		b->failed = rv;
	return rv;
}

int
core_graph_builder_add(core_graph_builder *b, const char *sender, size_t sender_len,
                       const char *receiver, size_t receiver_len, double amount)
{
	core_tx tx = {sender, sender_len, receiver, receiver_len, amount, 0, 0};
	return core_graph_builder_add_tx(b, &tx);
}

/* ------------------------------------------------------------ finish --- */

/* The passes of finish run on two threads, each over a contiguous half of
 * its input; every counting sort stays stable because thread 0's items of a
 * bucket go before thread 1's. */
#define PARTS 2

/* Runs fn(arg[0]) here and fn(arg[1]) on a second thread (or here, after it,
 * when the thread cannot start or par is false). */
static void
run_parts(void *(*fn)(void *), void *arg0, void *arg1, bool par)
{
	pthread_t t;
	if (par && pthread_create(&t, NULL, fn, arg1) == 0) {
		fn(arg0);
		pthread_join(t, NULL);
		return;
	}
	fn(arg0);
	fn(arg1);
}

/* Bucket positions for two parts from their counts c[0], c[1] (n + 1 each):
 * off gets the bucket starts (n + 1), c[0] and c[1] each part's positions. */
static void
parts_positions(uint32_t *off, uint32_t *c0, uint32_t *c1, uint32_t n)
{
	uint32_t sum = 0;
	for (uint32_t v = 0; v < n; v++) {
		uint32_t a = c0[v], b = c1[v];
		off[v] = sum;
		c0[v] = sum;
		c1[v] = sum + a;
		sum += a + b;
	}
	off[n] = sum;
}

typedef struct fin_part {
	core_graph_builder *b;
	core_graph *g;
	size_t lo, hi;        /* items of this part */
	uint32_t ulo, uhi;    /* nodes of this part, where a pass splits by node */
	uint32_t *cnt, *cnt2; /* this part's counts, then positions */
	const uint32_t *perm;
	const uint32_t *t_src;
	const double *t_amt;
	const uint32_t *by_dst_off;
	uint32_t kept; /* edges after merging */
} fin_part;

static void *
part_relabel(void *arg)
{
	fin_part *p = arg;
	for (size_t i = p->lo; i < p->hi; i++) {
		p->b->src[i] = p->perm[p->b->src[i]];
		p->b->dst[i] = p->perm[p->b->dst[i]];
	}
	return NULL;
}

/* Renumbers the wallets by activity, busiest first, ties in order of first
 * appearance (the traversals then find the hubs' state packed together and
 * mostly in cache), and merges the shards' tables into ids with those ids. */
static int
builder_relabel(core_graph_builder *b, core_intern *ids, bool par)
{
	uint32_t n = 0, maxc = 0, locals = 0, head[SHARDS] = {0};
	int rv = AMLRISK_ENOMEM;
	for (unsigned k = 0; k < SHARDS; k++) {
		n += b->ids[k].count;
		if (b->ids[k].count > locals)
			locals = b->ids[k].count;
	}
	size_t codes = (size_t)locals * SHARDS + 1; /* builder ids are below this */
	uint32_t *cnt = core_mem_alloc(codes * sizeof(uint32_t));
	uint32_t *perm = core_mem_alloc(codes * sizeof(uint32_t));
	uint32_t *order = core_mem_alloc(((size_t)n + 1) * sizeof(uint32_t));
	uint32_t *bucket = NULL;
	if (cnt == NULL || perm == NULL || order == NULL)
		goto out;
	for (size_t i = 0; i < b->len; i++) {
		cnt[b->src[i]]++;
		cnt[b->dst[i]]++;
	}
	/* the wallets in order of first appearance: the shards' lists merged */
	for (uint32_t v = 0; v < n; v++) {
		unsigned best = SHARDS;
		for (unsigned k = 0; k < SHARDS; k++)
			if (head[k] < b->ids[k].count &&
			    (best == SHARDS || b->first[k][head[k]] < b->first[best][head[best]]))
				best = k;
		order[v] = head[best]++ * SHARDS + best;
		if (cnt[order[v]] > maxc)
			maxc = cnt[order[v]];
	}
	if ((bucket = core_mem_alloc(((size_t)maxc + 2) * sizeof(uint32_t))) == NULL)
		goto out;
	for (uint32_t v = 0; v < n; v++)
		bucket[maxc - cnt[order[v]] + 1]++;
	for (uint32_t c = 1; c <= maxc + 1; c++)
		bucket[c] += bucket[c - 1];
	for (uint32_t v = 0; v < n; v++)
		perm[order[v]] = bucket[maxc - cnt[order[v]]]++;
	for (unsigned k = 0; k < SHARDS; k++) {
		core_mem_free(b->first[k]);
		b->first[k] = NULL;
	}
	fin_part parts[PARTS] = {{.b = b, .lo = 0, .hi = b->len / 2, .perm = perm},
	                         {.b = b, .lo = b->len / 2, .hi = b->len, .perm = perm}};
	run_parts(part_relabel, &parts[0], &parts[1], par);
	rv = core_intern_merge(ids, b->ids, SHARD_BITS, perm);
out:
	core_mem_free(cnt);
	core_mem_free(perm);
	core_mem_free(order);
	core_mem_free(bucket);
	return rv;
}

static void *
part_count1(void *arg)
{
	fin_part *p = arg;
	for (size_t i = p->lo; i < p->hi; i++) {
		p->cnt[p->b->dst[i]]++;
		p->cnt2[p->b->src[i]]++;
	}
	return NULL;
}

/* pass 1: the rows by receiver, into t_src/t_amt */
static void *
part_scatter1(void *arg)
{
	fin_part *p = arg;
	uint32_t *t_src = (uint32_t *)p->t_src;
	double *t_amt = (double *)p->t_amt;
	for (size_t i = p->lo; i < p->hi; i++) {
		uint32_t q = p->cnt[p->b->dst[i]]++;
		t_src[q] = p->b->src[i];
		t_amt[q] = p->b->amount[i];
	}
	return NULL;
}

static void *
part_count2(void *arg)
{
	fin_part *p = arg;
	for (size_t i = p->lo; i < p->hi; i++)
		p->cnt[p->t_src[i]]++;
	return NULL;
}

/* pass 2: by sender, receivers [ulo, uhi) in order, so rows come sorted */
static void *
part_scatter2(void *arg)
{
	fin_part *p = arg;
	core_graph *g = p->g;
	for (uint32_t v = p->ulo; v < p->uhi; v++) {
		for (uint32_t i = p->by_dst_off[v]; i < p->by_dst_off[v + 1]; i++) {
			uint32_t q = p->cnt[p->t_src[i]]++;
			g->out_dst[q] = v;
			g->edge_amount[q] = p->t_amt[i];
		}
	}
	return NULL;
}

/* Merges the parallel transactions of rows [ulo, uhi) in place, from the
 * start of the part's region; out_off[u] becomes relative to it. */
static void *
part_merge(void *arg)
{
	fin_part *p = arg;
	core_graph *g = p->g;
	/* the row bounds are read before out_off[u] is rewritten, and the last
	 * row's end comes from the part (the next part rewrites its own start) */
	uint32_t base = (uint32_t)p->lo, w = base, start = base;
	for (uint32_t u = p->ulo; u < p->uhi; u++) {
		uint32_t end = u + 1 < p->uhi ? g->out_off[u + 1] : (uint32_t)p->hi;
		g->out_off[u] = w;
		for (uint32_t i = start; i < end; i++) {
			if (w > g->out_off[u] && g->out_dst[w - 1] == g->out_dst[i]) {
				g->edge_txs[w - 1]++;
				double a = g->edge_amount[w - 1] + g->edge_amount[i];
				g->edge_amount[w - 1] = a <= DBL_MAX ? a : DBL_MAX;
				continue;
			}
			g->out_dst[w] = g->out_dst[i];
			g->edge_amount[w] = g->edge_amount[i];
			g->edge_txs[w] = 1;
			w++;
		}
		start = end;
	}
	p->kept = w - base;
	return NULL;
}

/* The node where the items of a CSR (off, n nodes) split in two halves. */
static uint32_t
split_node(const uint32_t *off, uint32_t n)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (off[mid] < off[n] / 2)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Builds the out rows from the builder's transaction arrays (freed as soon
 * as they are read): a stable counting sort by receiver, then one by sender,
 * so each sender's row comes out sorted by receiver; then parallel
 * transactions are merged. */
static int
graph_build_out(core_graph *g, core_graph_builder *b, bool par)
{
	int rv = AMLRISK_ENOMEM;
	uint32_t n = g->n;
	size_t len = b->len, nn = (size_t)n + 1;
	fin_part pt[PARTS];
	uint32_t *c[4] = {NULL, NULL, NULL, NULL},
	         *by_dst_off = core_mem_alloc(nn * sizeof(uint32_t));
	uint32_t *t_src = core_mem_alloc((len ? len : 1) * sizeof(uint32_t));
	double *t_amt = core_mem_alloc((len ? len : 1) * sizeof(double));
	g->out_off = core_mem_alloc(nn * sizeof(uint32_t));
	for (int i = 0; i < 4; i++)
		c[i] = core_mem_alloc(nn * sizeof(uint32_t));
	if (by_dst_off == NULL || t_src == NULL || t_amt == NULL || g->out_off == NULL ||
	    c[0] == NULL || c[1] == NULL || c[2] == NULL || c[3] == NULL)
		goto out;
	for (int k = 0; k < PARTS; k++)
		pt[k] = (fin_part){.b = b,
		                   .g = g,
		                   .lo = k * len / 2,
		                   .hi = (k + 1) * len / 2,
		                   .cnt = c[k],
		                   .cnt2 = c[2 + k],
		                   .t_src = t_src,
		                   .t_amt = t_amt};

	/* pass 1: by receiver */
	run_parts(part_count1, &pt[0], &pt[1], par);
	parts_positions(by_dst_off, c[0], c[1], n);
	parts_positions(g->out_off, c[2], c[3], n);
	run_parts(part_scatter1, &pt[0], &pt[1], par);
	/* the rows' arrays, read, become the graph's (no fresh pages to fault
	 * in); pass 2 and the merge write every entry they keep */
	g->out_dst = b->src;
	g->edge_txs = b->dst;
	g->edge_amount = b->amount;
	b->src = b->dst = NULL;
	b->amount = NULL;

	/* pass 2: by sender, each part a range of receivers */
	uint32_t vmid = split_node(by_dst_off, n);
	for (int k = 0; k < PARTS; k++) {
		pt[k].lo = k == 0 ? 0 : by_dst_off[vmid];
		pt[k].hi = k == 0 ? by_dst_off[vmid] : len;
		pt[k].ulo = k == 0 ? 0 : vmid;
		pt[k].uhi = k == 0 ? vmid : n;
		pt[k].by_dst_off = by_dst_off;
		memset(c[k], 0, nn * sizeof(uint32_t));
	}
	run_parts(part_count2, &pt[0], &pt[1], par);
	parts_positions(c[2], c[0], c[1], n); /* c[2]: the same starts as out_off */
	run_parts(part_scatter2, &pt[0], &pt[1], par);

	/* merge parallel transactions: each half of the rows in place, then the
	 * second half moved down to follow the first */
	uint32_t umid = split_node(g->out_off, n);
	pt[0].ulo = 0;
	pt[0].uhi = pt[1].ulo = umid;
	pt[1].uhi = n;
	pt[0].lo = 0;
	pt[0].hi = pt[1].lo = g->out_off[umid];
	pt[1].hi = len;
	run_parts(part_merge, &pt[0], &pt[1], par);
	uint32_t gap = g->out_off[umid] - pt[0].kept; /* out_off[umid]: part 1's base */
	if (gap > 0) {
		uint32_t from = g->out_off[umid];
		memmove(g->out_dst + from - gap, g->out_dst + from, pt[1].kept * sizeof(uint32_t));
		memmove(g->edge_txs + from - gap, g->edge_txs + from,
		        pt[1].kept * sizeof(uint32_t));
		memmove(g->edge_amount + from - gap, g->edge_amount + from,
		        pt[1].kept * sizeof(double));
		for (uint32_t u = umid; u < n; u++)
			g->out_off[u] -= gap;
	}
	g->m = (uint64_t)pt[0].kept + pt[1].kept;
	g->out_off[n] = (uint32_t)g->m;
	rv = AMLRISK_OK;
out:
	core_mem_free(by_dst_off);
	core_mem_free(t_src);
	core_mem_free(t_amt);
	for (int i = 0; i < 4; i++)
		core_mem_free(c[i]);
	return rv;
}

/* Shrinks the edge arrays to m entries (shrinking cannot lose data). */
static void
graph_trim(core_graph *g)
{
	size_t m = g->m ? g->m : 1;
	void *p;
	if ((p = core_mem_realloc(g->out_dst, m * sizeof(uint32_t))) != NULL)
		g->out_dst = p;
	if ((p = core_mem_realloc(g->edge_txs, m * sizeof(uint32_t))) != NULL)
		g->edge_txs = p;
	if ((p = core_mem_realloc(g->edge_amount, m * sizeof(double))) != NULL)
		g->edge_amount = p;
}

static void *
part_count_in(void *arg)
{
	fin_part *p = arg;
	const core_graph *g = p->g;
	for (size_t e = g->out_off[p->ulo]; e < g->out_off[p->uhi]; e++)
		p->cnt[g->out_dst[e]]++;
	return NULL;
}

static void *
part_scatter_in(void *arg)
{
	fin_part *p = arg;
	core_graph *g = p->g;
	for (uint32_t u = p->ulo; u < p->uhi; u++)
		for (uint32_t e = g->out_off[u]; e < g->out_off[u + 1]; e++)
			g->in_src[p->cnt[g->out_dst[e]]++] = u;
	return NULL;
}

/* The in rows: senders ascending, since each part visits its senders in
 * order and part 0's senders come first. */
static int
graph_build_in(core_graph *g, bool par)
{
	int rv = AMLRISK_ENOMEM;
	uint32_t n = g->n;
	size_t nn = (size_t)n + 1;
	uint32_t *c0 = core_mem_alloc(nn * sizeof(uint32_t));
	uint32_t *c1 = core_mem_alloc(nn * sizeof(uint32_t));
	g->in_off = core_mem_alloc(nn * sizeof(uint32_t));
	g->in_src = core_mem_alloc((g->m ? g->m : 1) * sizeof(uint32_t));
	if (c0 == NULL || c1 == NULL || g->in_off == NULL || g->in_src == NULL)
		goto out;
	uint32_t umid = split_node(g->out_off, n);
	fin_part pt[PARTS] = {{.g = g, .ulo = 0, .uhi = umid, .cnt = c0},
	                      {.g = g, .ulo = umid, .uhi = n, .cnt = c1}};
	run_parts(part_count_in, &pt[0], &pt[1], par);
	parts_positions(g->in_off, c0, c1, n);
	run_parts(part_scatter_in, &pt[0], &pt[1], par);
	rv = AMLRISK_OK;
out:
	core_mem_free(c0);
	core_mem_free(c1);
	return rv;
}

int
core_graph_builder_finish(core_graph **out, core_graph_builder *b, unsigned threads)
{
	int rv = b->failed;
	/* a second thread pays from a few hundred thousand rows on */
	bool par = threads != 1 && b->len >= 200000;
	core_graph *g = NULL;
	if (rv != 0 || (rv = builder_flush(b)) != 0 || (rv = stage_retire(b)) != 0)
		goto fail;
	helper_stop(b);
	builder_stages_free(b);
	rv = AMLRISK_ENOMEM;
	if ((g = calloc(1, sizeof *g)) == NULL)
		goto fail;
	atomic_init(&g->refs, 1);
	if ((rv = builder_relabel(b, &g->ids, par)) != 0)
		goto fail;
	g->n = g->ids.count;
	g->stats = b->stats;
	if ((rv = graph_build_out(g, b, par)) != 0)
		goto fail;
	graph_trim(g);
	if ((rv = graph_build_in(g, par)) != 0)
		goto fail;
	core_intern_shrink(&g->ids);
	core_graph_stats_finish(g);
	g->lineage = core_graph_lineage_next();
	core_graph_builder_destroy(b);
	*out = g;
	return AMLRISK_OK;
fail:
	core_graph_builder_destroy(b);
	core_graph_destroy(g);
	return rv;
}

void
core_graph_stats_finish(core_graph *g)
{
	g->stats.wallets = g->n;
	g->stats.edges = g->m;
	g->stats.bytes = sizeof *g + core_intern_bytes(&g->ids) +
	                 2 * ((size_t)g->n + 1) * sizeof(uint32_t) +
	                 (size_t)g->m * (3 * sizeof(uint32_t) + sizeof(double));
}

uint64_t
core_graph_lineage_next(void)
{
	static _Atomic uint64_t next = 1;
	return atomic_fetch_add(&next, 1);
}

core_graph *
core_graph_ref(core_graph *g)
{
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	return g;
}

void
core_graph_unref(core_graph *g)
{
	if (g == NULL || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
		return;
	core_intern_fini(&g->ids);
	core_mem_free(g->out_off);
	core_mem_free(g->out_dst);
	core_mem_free(g->edge_txs);
	core_mem_free(g->edge_amount);
	core_mem_free(g->in_off);
	core_mem_free(g->in_src);
	free(g);
}

void
core_graph_destroy(core_graph *g)
{
	core_graph_unref(g);
}

void
core_graph_stats_get(const core_graph *g, core_graph_stats *out)
{
	*out = g->stats;
}

uint32_t
core_graph_wallet_count(const core_graph *g)
{
	return g->n;
}

int
core_graph_find(const core_graph *g, const char *wallet, size_t len, uint32_t *id)
{
	if (wallet == NULL)
		return AMLRISK_ENOTFOUND;
	return core_intern_find(&g->ids, wallet, len, id);
}

const char *
core_graph_wallet(const core_graph *g, uint32_t id, size_t *len)
{
	return core_intern_str(&g->ids, id, len);
}

int
core_graph_wallet_cmp(const core_graph *g, uint32_t a, uint32_t b)
{
	size_t la, lb;
	const char *sa = core_intern_str(&g->ids, a, &la);
	const char *sb = core_intern_str(&g->ids, b, &lb);
	int c = memcmp(sa, sb, la < lb ? la : lb);
	return c != 0 ? c : (la > lb) - (la < lb);
}

uint32_t
core_graph_in_degree(const core_graph *g, uint32_t id)
{
	return g->in_off[id + 1] - g->in_off[id];
}

uint32_t
core_graph_out_degree(const core_graph *g, uint32_t id)
{
	return g->out_off[id + 1] - g->out_off[id];
}

size_t
core_graph_out_edges(const core_graph *g, uint32_t id, const uint32_t **dst, const uint32_t **txs,
                     const double **amount)
{
	uint32_t o = g->out_off[id];
	if (dst != NULL)
		*dst = g->out_dst + o;
	if (txs != NULL)
		*txs = g->edge_txs + o;
	if (amount != NULL)
		*amount = g->edge_amount + o;
	return g->out_off[id + 1] - o;
}

size_t
core_graph_in_edges(const core_graph *g, uint32_t id, const uint32_t **src)
{
	uint32_t o = g->in_off[id];
	if (src != NULL)
		*src = g->in_src + o;
	return g->in_off[id + 1] - o;
}
