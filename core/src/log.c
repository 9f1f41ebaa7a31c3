/*
 * The logger: one line per event on stderr, with a UTC timestamp, the level
 * and who speaks. Lines are written with a single write(2) so lines from
 * several threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cobs/log.h>

static volatile cobs_log_level threshold = COBS_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void cobs_log_set_level(cobs_log_level level)
{
	threshold = level;
}

cobs_log_level cobs_log_get_level(void)
{
	return threshold;
}

int cobs_log_parse_level(const char *text)
{
	if (strcasecmp(text, "warning") == 0)
		return COBS_LOG_WARN;
	for (int i = 0; i < 4; i++)
		if (strcasecmp(text, level_names[i]) == 0)
			return i;
	return -1;
}

static void log_va(cobs_log_level level, const char *who, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
static void log_va(cobs_log_level level, const char *who, const char *fmt, va_list ap)
{
	if (level < threshold || level > COBS_LOG_ERROR)
		return;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
	                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                 ts.tv_nsec / 1000000, level_names[level], who ? who : "-");
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w; /* nowhere left to report a failing stderr */
}

void cobs_log(cobs_log_level level, const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_va(level, who, fmt, ap);
	va_end(ap);
}

void cobs_log_recurring(int *warned, const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_va(*warned ? COBS_LOG_DEBUG : COBS_LOG_WARN, who, fmt, ap);
	va_end(ap);
	*warned = 1;
}
