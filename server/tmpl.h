/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's templates: a subset of Mustache rendered over jansson
 * values, so that a page is its JSON API twin's document put through a
 * template (web/templates/NAME.html).
 *
 *   {{name}}            the value, HTML-escaped; names look up the context
 *                       stack innermost first; a.b.c descends objects (a.0:
 *                       an array's first item); {{.}} is the current item
 *   {{name|filter}}     the value through a filter (below), then escaped
 *   {{#name}}..{{/name}} an array: once per item, the item on the stack; an
 *                       object: once, on the stack; any other true value:
 *                       once; nothing for a missing name, null, false, 0,
 *                       "" or an empty array
 *   {{#name.*}}..{{/name.*}} once per member of an object, in its order, with
 *                       {"key": the member's name, "val": its value} on the stack
 *                       ("val", not "value": samples have a value of their own)
 *   {{#name=word}}..{{/name=word}} once when the value's text is word (a
 *                       selected option, the current tab); {{^name=word}} when not
 *   {{^name}}..{{/name}} once exactly when {{#name}} would render nothing
 *   {{> partial}}        another template of the set, in the same context
 *   {{! comment }}
 *
 * There is no unescaped output ({{{x}}} and {{& x}} are parse errors):
 * everything a page shows came from an agent or a user, and escaping that
 * cannot be turned off cannot be forgotten. Escaped: & < > " ' (so values
 * are safe in text and in quoted attributes).
 *
 * Filters, for numbers (anything else, null included, renders as "-"):
 *   bytes   1024-based: 512 B, 1.50 KiB, 12.3 MiB, 1.00 GiB
 *   bps     the same per second: 12.3 MiB/s
 *   num     SI: 950, 1.20k, 3.40M
 *   rate    SI per second: 1.20k/s
 *   pct     one decimal: 12.5%
 *   fixed   two decimals: 0.42
 *   dur     seconds as a duration: 45s, 3m 20s, 5h 2m, 12d 3h
 *   ago     a time in ms since the epoch, against the render's now: 4s ago
 * and for strings and numbers:
 *   url     percent-encoded for a URL path segment or query value
 *
 * Not thread-safe while templates are added; rendering only reads the set.
 */
#ifndef COBS_SERVER_TMPL_H
#define COBS_SERVER_TMPL_H

#include <stdint.h>

#include <jansson.h>

#include <cobs/config.h>
#include <cobs/format.h>

typedef struct cobs_tmpl_set cobs_tmpl_set;

/* NULL when out of memory. */
cobs_tmpl_set *cobs_tmpl_set_new(void);
void cobs_tmpl_set_free(cobs_tmpl_set *s);

/*
 * Parses src (len bytes) as template `name`, replacing one of that name.
 * file names it in errors ("file:line: ..."). 0, or -1 with err.
 */
int cobs_tmpl_add(cobs_tmpl_set *s, const char *name, const char *file, const char *src, size_t len,
                  cobs_error *err);

/* Every dir/NAME.html as template NAME. 0, or -1 with err (the first bad file). */
int cobs_tmpl_load_dir(cobs_tmpl_set *s, const char *dir, cobs_error *err);

/* Whether the set has a template of that name. */
int cobs_tmpl_has(const cobs_tmpl_set *s, const char *name);

/*
 * Appends template name rendered over data (any JSON value) to out; now_ms
 * (ms since the epoch) is the "ago" filter's now. 0, or -1 with err (an
 * unknown template or partial, partials nested over 16 deep, out of memory);
 * out may then hold part of the page.
 */
int cobs_tmpl_render(const cobs_tmpl_set *s, const char *name, json_t *data, int64_t now_ms,
                     cobs_buf *out, cobs_error *err);

#endif
