/*
 * Pure parsers for the files the procpid plugin reads: /proc/PID/{stat,
 * status,io,cmdline,cgroup}, /proc/meminfo, /proc/PID/net/dev, and the
 * cgroup tree's key-value, pressure and per-device files. They take a buffer
 * and never touch the file system, so tests feed them hostile bytes directly.
 */
#ifndef PROCPID_PARSE_H
#define PROCPID_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* comm is 15 bytes for user tasks; kernel threads may show up to 63. */
#define PP_COMM_MAX 64

/* Flag bit 21 of stat field 9: the task is a kernel thread (include/linux/sched.h). */
#define PP_PF_KTHREAD 0x00200000u

typedef struct pp_stat {
	char comm[PP_COMM_MAX]; /* NUL-terminated; any byte but NUL, ')' and '\n' included */
	char state;             /* R S D Z T t X I ... */
	int64_t ppid;
	uint64_t flags;
	uint64_t minflt, majflt;
	uint64_t utime, stime; /* clock ticks */
	int64_t cutime, cstime;
	int64_t priority, nice;
	int64_t num_threads;
	uint64_t starttime; /* clock ticks after boot */
	int64_t processor;  /* -1 when the kernel does not print it */
} pp_stat;

/*
 * /proc/PID/stat. The comm runs from the first '(' to the LAST ')': a task
 * may name itself "a) (b" and only the last ')' is certain to be the kernel's.
 * Returns 0, or -1 when the line is not a stat line (or is cut before
 * starttime, field 22).
 */
int pp_parse_stat(const char *buf, size_t len, pp_stat *out);

/* What a key-value line's value is: a count, kibibytes ("123 kB"), or text. */
typedef enum pp_kind { PP_NUM = 0, PP_KB = 1, PP_STR = 2 } pp_kind;

typedef struct pp_key {
	const char *name;
	pp_kind kind;
} pp_key;

typedef struct pp_val {
	bool present;
	uint64_t num;    /* PP_NUM, PP_KB (in bytes) */
	const char *str; /* PP_STR: points into the buffer, NUL-terminated there */
} pp_val;

/*
 * Lines "key<sep><blanks>value", as in /proc/PID/status and io (sep ':') and
 * in cgroup files such as cpu.stat and memory.stat (sep ' '). vals[i] gets
 * the value of keys[i]; the first line for a key wins; a value that does not
 * parse leaves the key absent. Parses in place: the '\n' ending a PP_STR
 * value becomes a NUL (so buf must be writable and NUL-terminated at len).
 * Returns how many keys were found.
 */
size_t pp_parse_kv(char *buf, size_t len, char sep, const pp_key *keys, size_t nkeys, pp_val *vals);

/*
 * /proc/PID/cmdline: arguments separated by NUL become one line separated by
 * spaces, trailing NULs dropped, cut to at most max bytes at a UTF-8
 * character boundary. out must hold max + 1 bytes. Returns the length.
 */
size_t pp_cmdline(const char *raw, size_t n, size_t max, char *out);

/* The hierarchies whose lines matter in /proc/PID/cgroup. */
enum { PP_CG_CPU, PP_CG_CPUACCT, PP_CG_MEMORY, PP_CG_NCTL };

typedef struct pp_span {
	const char *p; /* NULL when absent */
	size_t len;
} pp_span;

typedef struct pp_cgroup {
	pp_span v2;             /* the "0::" line */
	pp_span v1[PP_CG_NCTL]; /* the line whose controller list names cpu, cpuacct, memory */
	bool v1_any;            /* any line with a controller list: a v1 or hybrid host */
} pp_cgroup;

/*
 * /proc/PID/cgroup ("id:controllers:path" per line; a path may hold ':').
 * The kernel's " (deleted)" suffix on a removed v2 cgroup is dropped.
 * Returns 0, or -1 when no line parses.
 */
int pp_parse_cgroup(const char *buf, size_t len, pp_cgroup *out);

/*
 * The path that places a process: v2's on a pure v2 host; on a v1 (or
 * hybrid) host the first of cpu, cpuacct, memory that is not the root
 * (kubelet gives a container the same path in every hierarchy; a host where
 * they differ is placed by the most specific), else cpu's "/". *hier gets
 * the hierarchy it came from: PP_CG_CPU.. or PP_CG_V2.
 */
#define PP_CG_V2 PP_CG_NCTL
pp_span pp_cgroup_path(const pp_cgroup *cg, int *hier);

/* Pressure files: the total= of the "some" and "full" lines, microseconds. */
typedef struct pp_pressure {
	bool some_ok, full_ok;
	uint64_t some_total, full_total;
} pp_pressure;

void pp_parse_pressure(const char *buf, size_t len, pp_pressure *out);

/*
 * One line of a per-device file: "MAJ:MIN rest". Advances *p past the line.
 * Returns 1 with dev ("8:0") and rest [*rest, *rest_end) set, 0 for a line
 * without a device (skip it), -1 at the end of the buffer.
 */
int pp_next_dev_line(const char **p, const char *end, char dev[32], const char **rest,
                     const char **rest_end);

/* In v2 io.stat's rest "rbytes=1 wbytes=2 ...": the value of key=, or false. */
bool pp_kv_field(const char *rest, const char *end, const char *key, uint64_t *out);

/* /proc/PID/net/dev's 16 counters, in column order. */
#define PP_NETDEV_NCOUNTERS 16

/*
 * One line of /proc/PID/net/dev. Advances *p past the line. Returns 1 with
 * name and v set, 0 for a header or malformed line, -1 at the end.
 */
int pp_next_netdev(const char **p, const char *end, char name[32], uint64_t v[PP_NETDEV_NCOUNTERS]);

/* A signed decimal field (leading blanks, optional '-'); the end, or NULL. */
const char *pp_parse_i64(const char *p, const char *end, int64_t *out);

#endif
