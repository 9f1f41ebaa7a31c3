/* SPDX-License-Identifier: MIT */
/*
 * A plugin's view of its INI section ([plugin.<name>] or [sink.<name>]).
 *
 * Every getter takes a default, reads the environment override
 * COBS_<SECTION>_<KEY> first (section "plugin.net" -> PLUGIN_NET), and on a
 * bad value fills err with a message that names the file, the line and the
 * key. Keys a plugin never asks for are reported by the host as unknown, so a
 * typo in agent.ini is an error, not a silently ignored line.
 */
#ifndef COBS_CONFIG_H
#define COBS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cobs_error {
	char msg[512];
} cobs_error;

/* Formats into err (if err is not NULL) and returns -1, so callers can `return
 * cobs_error_set(...)`. */
int cobs_error_set(cobs_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct cobs_section cobs_section;

/* The section's full name, e.g. "plugin.net". */
const char *cobs_section_name(const cobs_section *s);

/* Raw value or NULL when absent (env override included). Marks the key used. */
const char *cobs_cfg_raw(const cobs_section *s, const char *key);

/* Where a key was set, for messages: "agent.ini:12" or "environment COBS_X_Y". */
const char *cobs_cfg_where(const cobs_section *s, const char *key, char *buf, size_t len);

int cobs_cfg_string(const cobs_section *s, const char *key, const char *def, const char **out,
                    cobs_error *err);
int cobs_cfg_bool(const cobs_section *s, const char *key, bool def, bool *out, cobs_error *err);
int cobs_cfg_uint(const cobs_section *s, const char *key, uint64_t def, uint64_t min, uint64_t max,
                  uint64_t *out, cobs_error *err);
/* Durations with units: 250ms, 5s, 1m, 2h. A bare number is seconds. */
int cobs_cfg_duration_ms(const cobs_section *s, const char *key, uint64_t def_ms, uint64_t *out_ms,
                         cobs_error *err);
/* Sizes with units: 512, 64KiB, 10MiB, 1GiB, 1KB (1000). A bare number is bytes. */
int cobs_cfg_size(const cobs_section *s, const char *key, uint64_t def, uint64_t *out,
                  cobs_error *err);

/*
 * A list of glob patterns (see cobs_globs_parse in <cobs/proc.h>), each
 * checked: fnmatch would quietly take "sd[a-z" literally, so an unterminated
 * '[' or '[:' or a trailing '\' is refused naming file, line and key.
 * *out is NULL-terminated; free it with cobs_globs_free.
 */
int cobs_cfg_globs(const cobs_section *s, const char *key, const char *def, char ***out,
                   cobs_error *err);

/*
 * For checks the getters cannot make (a required key, two keys that clash):
 * fills err with "<where>: [<section>] key '<key>': <message>" and marks the
 * section as misconfigured, so the agent stops with a configuration error
 * instead of going on without the plugin. Returns -1.
 */
int cobs_cfg_error(const cobs_section *s, const char *key, cobs_error *err, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* The unit parsers behind the getters (0 on success, -1 on a bad value). */
int cobs_parse_duration_ms(const char *text, uint64_t *out_ms);
int cobs_parse_size(const char *text, uint64_t *out);
int cobs_parse_bool(const char *text, bool *out);

#ifdef __cplusplus
}
#endif
#endif
