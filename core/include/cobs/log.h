/* SPDX-License-Identifier: MIT */
/*
 * The one logger. Every line carries a level and the name of who speaks
 * (a plugin's name, or "agent"), so a user can tell which plugin complained.
 */
#ifndef COBS_LOG_H
#define COBS_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cobs_log_level {
	COBS_LOG_DEBUG = 0,
	COBS_LOG_INFO = 1,
	COBS_LOG_WARN = 2,
	COBS_LOG_ERROR = 3,
} cobs_log_level;

void cobs_log(cobs_log_level level, const char *who, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * A problem that recurs every collection (a malformed line in a /proc file):
 * logged at warn the first time (*warned false), at debug after, so it is
 * seen once and does not flood the log. Sets *warned.
 */
void cobs_log_recurring(int *warned, const char *who, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* The threshold below which lines are dropped (default info). */
void cobs_log_set_level(cobs_log_level level);
cobs_log_level cobs_log_get_level(void);
/* "debug", "info", "warn"/"warning", "error" -> level; -1 when unknown. */
int cobs_log_parse_level(const char *text);

#ifdef __cplusplus
}
#endif
#endif
