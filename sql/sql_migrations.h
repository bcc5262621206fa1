/* sql_migrations.h - the numbered schema migrations, embedded at build time
 * from sql/migrations/NNN_name.sql, in ascending version order. */
#ifndef SQL_MIGRATIONS_H
#define SQL_MIGRATIONS_H

typedef struct sql_migration {
	int version;
	const char *name;
	const char *text;
} sql_migration;

extern const sql_migration sql_migrations[];
extern const int sql_migrations_count;

#endif
