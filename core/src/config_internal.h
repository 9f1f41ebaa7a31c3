/*
 * The agent's side of configuration: loading an INI file into sections that
 * remember where each key was written, so that every error can name file,
 * line and key. Plugins see sections only through <cobs/config.h>.
 */
#ifndef COBS_CONFIG_INTERNAL_H
#define COBS_CONFIG_INTERNAL_H

#include <cobs/config.h>

typedef struct cobs_config cobs_config;

/* An empty configuration (what runs with no -c), or NULL when out of memory. */
cobs_config *cobs_config_new(void);
/* Parses path. NULL with err filled ("file:line: ...") on a syntax error. */
cobs_config *cobs_config_load(const char *path, cobs_error *err);
void cobs_config_free(cobs_config *c);

/* The section named name, or NULL. */
cobs_section *cobs_config_section(const cobs_config *c, const char *name);
/* The section named name, created empty if absent. NULL when out of memory. */
cobs_section *cobs_config_add_section(cobs_config *c, const char *name, const char *file, int line);
size_t cobs_config_count(const cobs_config *c);
cobs_section *cobs_config_at(const cobs_config *c, size_t i);

/* Sets key in s, as written at file:line. 0, or -1 (duplicate key, out of memory). */
int cobs_section_set(cobs_section *s, const char *key, const char *value, const char *file,
                     int line, cobs_error *err);
/* Where the section header stood ("agent.ini:3", or "built-in defaults"). */
const char *cobs_section_where(const cobs_section *s, char *buf, size_t len);
/* Whether a getter refused one of this section's values (see bad_value in config.c). */
int cobs_section_has_bad_value(const cobs_section *s);
/* -1 with err naming file, line and key for the first key nobody asked for. */
int cobs_section_check_unused(const cobs_section *s, cobs_error *err);

#endif
