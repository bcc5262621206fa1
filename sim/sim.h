/* sim.h - the simulator library behind amlrisk-sim: a deterministic generator of
 * synthetic transactions with planted laundering typologies, writers and readers
 * of its three file formats, the Kafka producer, and the wallet_labels writer. */
#ifndef SIM_H
#define SIM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aml/v1/transaction.pb-c.h"

/* ---- formats ---------------------------------------------------------------- */

typedef enum sim_format {
	SIM_FORMAT_AUTO = 0, /* readers only: detect from the first bytes */
	SIM_FORMAT_PROTOBUF, /* length-delimited aml.v1.Transaction (amlrisk_tx_write) */
	SIM_FORMAT_JSONL,    /* one JSON object a line, the proto field names */
	SIM_FORMAT_CSV,      /* header tx_id,sender,receiver,amount,timestamp,asset */
} sim_format;

/* Parses "protobuf" | "jsonl" | "csv" (and "auto" when allow_auto). Returns 0 or -1. */
int sim_format_parse(const char *name, int allow_auto, sim_format *out);
/* "protobuf", "jsonl", "csv" or "auto"; never NULL. */
const char *sim_format_name(sim_format f);

/* Formats microseconds since the epoch as 2026-01-01T00:00:00.000000Z into out
 * (at least SIM_TIME_LEN + 1 bytes). Returns the length. */
#define SIM_TIME_LEN 27
size_t sim_time_format(int64_t us, char *out);
/* Parses ISO-8601 UTC: YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+00:00), or a date alone
 * (YYYY-MM-DD, midnight). Returns 0 and sets *us, or -1. */
int sim_time_parse(const char *s, int64_t *us);

/* ---- generator -------------------------------------------------------------- */

/* The fixed reference time a default window ends at: 2026-01-01T00:00:00Z. */
#define SIM_REF_END_US       INT64_C(1767225600000000)
#define SIM_WALLETS_MAX      UINT64_C(1000000000)
#define SIM_TRANSACTIONS_MAX UINT64_C(1000000000000)
#define SIM_PLANTED_MAX      UINT64_C(10000000) /* planted transactions held in memory */
#define SIM_SIZE_MAX         64                 /* members k of one instance */

typedef enum sim_typology {
	SIM_FAN_OUT = 0,    /* source -> k mules */
	SIM_FAN_IN,         /* k sources -> sink */
	SIM_CYCLE,          /* source -> mule_1 -> ... -> mule_k-1 -> source */
	SIM_SCATTER_GATHER, /* source -> k mules -> sink */
	SIM_GATHER_SCATTER, /* k sources -> hub (mule) -> j sinks */
	SIM_PEEL_CHAIN,     /* source -> mule_1 -> ... -> mule_L, each hop peeling to a sink */
	SIM_TYPOLOGY_COUNT
} sim_typology;

typedef enum sim_role { SIM_ROLE_SOURCE = 0, SIM_ROLE_MULE, SIM_ROLE_SINK } sim_role;

/* "fan_out", "fan_in", "cycle", "scatter_gather", "gather_scatter", "peel_chain" */
const char *sim_typology_name(sim_typology t);
/* "source", "mule", "sink" */
const char *sim_role_name(sim_role r);

/* One member of a planted instance, in flow order within its instance. */
typedef struct sim_member {
	uint64_t wallet;   /* wallet index, 0..wallets-1 */
	uint32_t instance; /* 1-based within its typology */
	uint8_t typology;  /* sim_typology */
	uint8_t role;      /* sim_role */
	uint8_t labelled;  /* 1: a source chosen for the labels (--label-fraction) */
} sim_member;

typedef struct sim_gen_opts {
	uint64_t wallets;      /* >= 2 */
	uint64_t transactions; /* total, planted ones included */
	uint64_t seed;
	int64_t start_us;  /* window start, microseconds since the epoch */
	int64_t window_us; /* window length; timestamps lie in [start, start+window) */
	double zipf;       /* activity exponent, 0 (uniform) .. 5 */
	double amount_mu;  /* log-normal amount: exp(N(mu, sigma^2)) units */
	double amount_sigma;
	const char *asset; /* borrowed; "" for none */
	int self_transfers;
	/* instances per typology; -1 picks a default scaled to wallets and transactions */
	int64_t typologies[SIM_TYPOLOGY_COUNT];
	uint32_t size_min, size_max; /* members k per instance (3 .. 64) */
	/* camouflage: every planted amount is an ordinary draw (exp(N(mu, sigma^2)));
	 * an instance's draws are handed out in the order of the amounts its
	 * typology would use, so its order relations hold but sums are not kept.
	 * Members, edges and timestamps are those of the same seed without it. */
	int camouflage;
	/* share of the sources labelled, in (0, 1]: round(F * sources), at least
	 * one, chosen by the seed; the truth still lists every member */
	double label_fraction;
} sim_gen_opts;

/* The defaults: the original platform's demo (200 wallets, 2000 transactions,
 * 30 days ending at 2026-01-01T00:00:00Z), seed 42, zipf 1, mu 0, sigma 1.5,
 * asset BTC, default typology counts, sizes 3..8, no camouflage, every source
 * labelled. */
void sim_gen_opts_default(sim_gen_opts *o);

typedef struct sim_gen sim_gen;

/* Plans a run: picks the typology instances and their members. On a bad
 * option returns AMLRISK_EINVAL with a message naming the flag in err. Borrows
 * o (and o->asset, which must outlive the generator). Caller frees *out with
 * sim_gen_destroy(). */
int sim_gen_create(sim_gen **out, const sim_gen_opts *o, char *err, size_t errlen);
void sim_gen_destroy(sim_gen *g);

/* Fills tx with the next transaction in timestamp order. Returns AMLRISK_OK, or
 * AMLRISK_ENOTFOUND after the last one. tx's strings point into g and stay
 * valid until the next call; nothing is allocated per row. */
int sim_gen_next(sim_gen *g, Aml__V1__Transaction *tx);

uint64_t sim_gen_total(const sim_gen *g);   /* transactions it will emit */
uint64_t sim_gen_planted(const sim_gen *g); /* of which planted by typologies */
/* Instances planted of typology t. */
uint64_t sim_gen_instances(const sim_gen *g, sim_typology t);
/* The planted members; *out borrowed from g. */
size_t sim_gen_members(const sim_gen *g, const sim_member **out);
/* Writes wallet idx's id (w + zero-padded index) into buf. Returns its length,
 * or 0 if buflen is too small. */
size_t sim_gen_wallet_name(const sim_gen *g, uint64_t idx, char *buf, size_t buflen);
/* Writes the ground truth CSV: header typology,instance,wallet,role, then one
 * row per member in flow order. Returns AMLRISK_OK or AMLRISK_EIO. */
int sim_gen_truth_write(const sim_gen *g, FILE *f);
/* Writes the labelled sources (sim_member.labelled), one wallet id a line, in
 * flow order: the labels file amlrisk-score --labels reads. Returns AMLRISK_OK
 * or AMLRISK_EIO. */
int sim_gen_labels_write(const sim_gen *g, FILE *f);

/* ---- writer ----------------------------------------------------------------- */

typedef struct sim_writer sim_writer;

/* A writer of fmt (not AUTO) to f, which it borrows (it must outlive the
 * writer; the caller closes it). Caller frees with sim_writer_destroy(). */
int sim_writer_create(sim_writer **out, FILE *f, sim_format fmt);
/* Appends tx (borrowed). Returns AMLRISK_OK, AMLRISK_EIO, or AMLRISK_ETOOBIG
 * for a field too long to encode. */
int sim_writer_write(sim_writer *w, const Aml__V1__Transaction *tx);
/* Flushes everything written so far to f and fflush()es it. */
int sim_writer_finish(sim_writer *w);
void sim_writer_destroy(sim_writer *w);

/* ---- reader ----------------------------------------------------------------- */

typedef struct sim_reader sim_reader;

/* A reader of f (borrowed, must outlive the reader) in fmt, or detected from
 * the first bytes when fmt is SIM_FORMAT_AUTO: '{' starts JSON Lines, a first
 * line of text with commas starts CSV, anything else is protobuf. CSV
 * columns are found by name from the header (tx_id, sender, receiver, amount,
 * timestamp required; asset optional; others ignored). */
int sim_reader_create(sim_reader **out, FILE *f, sim_format fmt, char *err, size_t errlen);
void sim_reader_destroy(sim_reader *r);
sim_format sim_reader_format(const sim_reader *r);

/* Reads the next record. Returns
 *   AMLRISK_OK        *tx is borrowed until the next call (not yet validated);
 *   AMLRISK_ENOTFOUND at the end;
 *   AMLRISK_EINVAL    a bad record, skipped: why says "line N: ..." (or
 *                     "record N: ..." for protobuf); reading can go on;
 *   AMLRISK_ETOOBIG, AMLRISK_EIO  the stream cannot be read further (why says so). */
int sim_reader_next(sim_reader *r, Aml__V1__Transaction **tx, char *why, size_t whylen);
/* "line" or "record": what sim_reader_number() counts. */
const char *sim_reader_unit(const sim_reader *r);
/* Line (csv, jsonl) or record (protobuf) number of the record last returned. */
uint64_t sim_reader_number(const sim_reader *r);
/* Bytes consumed from f so far. */
uint64_t sim_reader_bytes(const sim_reader *r);

/* ---- pacing ------------------------------------------------------------------ */

/* A fixed-rate schedule: message n (0-based) is due n / rate seconds after
 * sim_pace_start(); rate 0 means no pacing. Plain values, no resources. */
typedef struct sim_pace {
	double rate; /* messages per second; 0 = as fast as possible */
	double t0;   /* when message 0 was due, seconds on the caller's clock */
} sim_pace;

void sim_pace_start(sim_pace *p, double rate, double now);
/* Seconds to wait at time now before message n may be sent; 0 when it is due
 * (or overdue: the schedule is kept, not restarted). */
double sim_pace_wait_s(const sim_pace *p, uint64_t n, double now);
/* Sleeps seconds (<= 0: returns at once); a signal ends the sleep early. */
void sim_pace_sleep(double seconds);

/* ---- Kafka producer ----------------------------------------------------------- */

typedef struct sim_pub_opts {
	const char *bootstrap;   /* bootstrap.servers */
	const char *topic;       /* default "transactions" */
	const char *compression; /* compression.type: lz4 (default), zstd, gzip, snappy, none */
	int linger_ms;           /* linger.ms */
	int batch_size;          /* batch.size, bytes */
	int queue_max;           /* queue.buffering.max.messages */
	int timeout_ms;          /* message.timeout.ms: a message undelivered by then fails */
	const char *const *conf; /* extra librdkafka properties "key=value", nconf of them */
	size_t nconf;
	volatile sig_atomic_t *stop; /* when non-NULL and set, a full-queue wait gives up */
} sim_pub_opts;

void sim_pub_opts_default(sim_pub_opts *o);

typedef struct sim_pub sim_pub;

/* An idempotent producer (enable.idempotence, acks=all) with o's batching and
 * compression. Borrows o's strings for the call only. Caller frees with
 * sim_pub_destroy(). AMLRISK_EINVAL with err set for a bad property. */
int sim_pub_create(sim_pub **out, const sim_pub_opts *o, char *err, size_t errlen);
/* Packs tx (borrowed) and enqueues it keyed by sender; while the local queue is
 * full it serves delivery reports and retries. AMLRISK_OK, AMLRISK_ETOOBIG,
 * AMLRISK_ECANCELED (stop was set), or AMLRISK_EKAFKA (err says why). */
int sim_pub_send(sim_pub *p, const Aml__V1__Transaction *tx, char *err, size_t errlen);
/* Serves delivery reports without blocking. */
void sim_pub_poll(sim_pub *p);
/* Sends what is queued and waits up to ms for delivery reports. Returns how
 * many sent messages still await theirs. */
uint64_t sim_pub_wait(sim_pub *p, int ms);
/* Waits up to timeout_ms for every queued message's delivery report; messages
 * still undelivered then count as failed. AMLRISK_OK when nothing failed. */
int sim_pub_flush(sim_pub *p, int timeout_ms);
/* Counts so far; first_error (may be NULL) is the first delivery error seen, or
 * NULL; it stays valid until sim_pub_destroy(). */
void sim_pub_stats(const sim_pub *p, uint64_t *sent, uint64_t *delivered, uint64_t *failed,
                   const char **first_error);
void sim_pub_destroy(sim_pub *p);

/* ---- wallet_labels ------------------------------------------------------------ */

/* Inserts every labelled source of g (sim_member.labelled) into wallet_labels (wallet, label,
 * source) at conninfo, in one transaction, with a parameterised INSERT ... ON CONFLICT DO NOTHING.
 * *inserted (may be NULL) gets the rows new to the table. Returns AMLRISK_OK or AMLRISK_EDB with
 * err set. Borrows everything. */
int sim_labels_store(const sim_gen *g, const char *conninfo, const char *label, const char *source,
                     uint64_t *inserted, char *err, size_t errlen);

#endif
