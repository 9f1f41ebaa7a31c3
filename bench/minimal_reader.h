/*
 * The reference for the node collectors: keeps /proc/{stat,meminfo,loadavg,
 * net/dev,diskstats} open and preads each at offset 0, doing nothing else.
 * A collector cannot be cheaper than this; the target is 1.2x of it.
 */
#ifndef COBS_BENCH_MINIMAL_READER_H
#define COBS_BENCH_MINIMAL_READER_H

#include <stddef.h>

typedef struct minimal_reader minimal_reader;

minimal_reader *minimal_reader_open(const char *proc_root);
/* One pass over every file; returns the bytes read (so the work is not optimised away). */
size_t minimal_reader_pass(minimal_reader *r);
void minimal_reader_close(minimal_reader *r);

#endif
