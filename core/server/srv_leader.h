/* srv_leader.h - which of several amlrisk-core processes on one database is
 * the writer: the one holding a PostgreSQL session advisory lock on a
 * dedicated connection. The others retry the lock every poll period; a writer
 * whose lock connection fails stops being the writer at once. */
#ifndef SRV_LEADER_H
#define SRV_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define SRV_LEADER_ID_MAX       64 /* instance id bytes, NUL excluded */
#define SRV_LEADER_LISTENERS    4
#define SRV_LEADER_KEY_DEFAULT  7308604759365578101LL /* "amlrisk" and a version byte */
#define SRV_LEADER_POLL_DEFAULT 500

typedef enum srv_role {
	SRV_ROLE_ELECTING, /* no election has been made yet (or the database is away) */
	SRV_ROLE_READER,
	SRV_ROLE_WRITER,
} srv_role;

/* Called on the election thread after each change of role; quick, or at
 * least never waiting on the election itself. */
typedef void (*srv_leader_fn)(void *arg, srv_role role);

typedef struct srv_leader_conf {
	const char *database_url; /* borrowed; outlives the leader */
	const char *instance_id;  /* borrowed; shown as the writer's name */
	int64_t lock_key;         /* pg_try_advisory_lock(key) */
	int poll_ms;              /* a reader retries, a writer checks its session, this often */
} srv_leader_conf;

typedef struct srv_leader srv_leader;

/* A leader not yet electing (listeners may be added). *out only on success;
 * AMLRISK_ENOMEM. */
int srv_leader_create(srv_leader **out, const srv_leader_conf *conf);
/* Adds fn(arg, role) to the listeners: before srv_leader_start() only,
 * at most SRV_LEADER_LISTENERS (AMLRISK_EFULL). */
int srv_leader_listen(srv_leader *l, srv_leader_fn fn, void *arg);
/* Starts the election thread. AMLRISK_ENOMEM. */
int srv_leader_start(srv_leader *l);
/* Stops the election thread (a writer's listeners hear READER) and closes the
 * lock session, which releases the lock; the role stays READER and every
 * query above still answers, so threads that read it may finish first.
 * Idempotent; NULL is a no-op. */
void srv_leader_stop(srv_leader *l);
/* Stops (if not yet) and frees. NULL is a no-op. */
void srv_leader_destroy(srv_leader *l);

/* The current role; NULL (no election: a single core) is always the writer. */
srv_role srv_leader_role(const srv_leader *l);
bool srv_leader_is_writer(const srv_leader *l);
const char *srv_role_name(srv_role r);
/* Waits up to ms for the first election attempt to end; returns the role. */
srv_role srv_leader_wait(srv_leader *l, int ms);
/* Asks the election thread for a step now (and again until one ends with a
 * role other than ELECTING), waiting up to ms: after a database restart ended
 * the lock session, the writer gets its lock back before it writes. Returns
 * the role. */
srv_role srv_leader_settle(srv_leader *l, int ms);
/* This instance's id, and the writer's as last seen ("" unknown) into buf. */
const char *srv_leader_instance(const srv_leader *l);
void srv_leader_writer_id(srv_leader *l, char *buf, size_t len);
/* The refusal of a write on a non-writer into buf and its error:
 * AMLRISK_ESTATE "not the writer; the writer is <id>" on a reader,
 * AMLRISK_EUNAVAIL "not the writer; no writer can be elected: <why>" (the
 * database unreachable, say) or "...elected yet" while electing. */
int srv_leader_refusal(srv_leader *l, char *buf, size_t len);

/* The writer's term while this instance is the writer, else 0: the lock
 * session's backend pid and a count of the times the lock was taken (a lock
 * lost and taken again is another term). */
long long srv_leader_term(const srv_leader *l);

/* A write's fence: the term it began in (leader NULL: no election). */
typedef struct srv_fence {
	srv_leader *leader;
	long long term;
} srv_fence;

/* Checks, on c (inside the caller's open transaction, or not), that the
 * lock is still held by the session of f's term (pg_locks). AMLRISK_OK,
 * AMLRISK_ESTATE (lost, or lost and taken again since: the caller rolls
 * back), AMLRISK_EDB; err set. NULL f or f->leader: AMLRISK_OK. */
int srv_leader_fence(const srv_fence *f, PGconn *c, char *err, size_t errlen);

/* Checks an instance id: 1..SRV_LEADER_ID_MAX of [A-Za-z0-9._:-]. */
bool srv_leader_id_valid(const char *id);

#endif
