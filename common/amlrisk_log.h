/* amlrisk_log.h - one line per event on stderr:
 *   2026-11-25T14:21:03.123Z info consumer batch.committed rows=5000 ms=41
 * Services log; libraries return errors and let the service log them. */
#ifndef AMLRISK_LOG_H
#define AMLRISK_LOG_H

typedef enum amlrisk_log_level {
	AMLRISK_LOG_DEBUG = 0,
	AMLRISK_LOG_INFO,
	AMLRISK_LOG_WARN,
	AMLRISK_LOG_ERROR,
} amlrisk_log_level;

/* Sets the minimum level printed; reads LOG_LEVEL (debug|info|warn|error) when
 * called with -1. Thread-safe to call before threads start. */
void amlrisk_log_init(int level);

/* Prints one line: timestamp, level, component, event, then the printf-style
 * key=value text. Thread-safe (one write(2) per line). */
void amlrisk_log(amlrisk_log_level level, const char *component, const char *event,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
