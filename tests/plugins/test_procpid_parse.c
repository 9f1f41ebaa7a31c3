/*
 * procpid's pure functions, fed directly: the stat, status, io, cmdline,
 * cgroup, pressure, io.stat and net/dev parsers (with hostile input: a comm
 * of "a) (b", newlines, non-UTF-8 bytes, truncation, NULs, random bytes), the
 * cgroup path -> pod/container mapping for every driver and runtime, the
 * cgroup namespace path resolution and root search, and the index map.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgmap.h"
#include "harness.h"
#include "imap.h"
#include "parse.h"

/* A stat line as the kernel prints it, with comm and a few fields chosen. */
static size_t stat_line(char *buf, size_t len, const char *comm, const char *tail)
{
	return (size_t)snprintf(buf, len, "4242 (%s) %s", comm, tail);
}

#define STAT_TAIL                                                                                  \
	"S 1 4242 4242 0 -1 4194560 1234 0 56 0 789 123 -5 7 20 -3 4 0 98765 10485760 512 "        \
	"18446744073709551615 94345678901248 94345678923456 140737488346112 0 0 0 0 0 0 1 0 0 "    \
	"17 1 0 0 0 0 0 94345678935040 94345678936576 94345700040704 140737488348591 "             \
	"140737488348620 140737488348620 140737488351211 0\n"

START_TEST(stat_fields)
{
	char buf[1024];
	size_t n = stat_line(buf, sizeof(buf), "nginx", STAT_TAIL);
	pp_stat st;
	ck_assert_int_eq(pp_parse_stat(buf, n, &st), 0);
	ck_assert_str_eq(st.comm, "nginx");
	ck_assert_int_eq(st.state, 'S');
	ck_assert_int_eq(st.ppid, 1);
	ck_assert_uint_eq(st.flags, 4194560);
	ck_assert_uint_eq(st.minflt, 1234);
	ck_assert_uint_eq(st.majflt, 56);
	ck_assert_uint_eq(st.utime, 789);
	ck_assert_uint_eq(st.stime, 123);
	ck_assert_int_eq(st.cutime, -5);
	ck_assert_int_eq(st.cstime, 7);
	ck_assert_int_eq(st.priority, 20);
	ck_assert_int_eq(st.nice, -3);
	ck_assert_int_eq(st.num_threads, 4);
	ck_assert_uint_eq(st.starttime, 98765);
	ck_assert_int_eq(st.processor, 1);
}
END_TEST

START_TEST(stat_hostile_comms)
{
	static const char *const comms[] = {
	        "a) (b",           ")",      "(", "a b c", "x) S 1 2 3 (", "new\nline",
	        "bad\xff\xfeutf8", ") 99 (", "",
	};
	for (size_t i = 0; i < sizeof(comms) / sizeof(*comms); i++) {
		char buf[1024];
		size_t n = stat_line(buf, sizeof(buf), comms[i], STAT_TAIL);
		pp_stat st;
		ck_assert_msg(pp_parse_stat(buf, n, &st) == 0, "comm '%s'", comms[i]);
		ck_assert_str_eq(st.comm, comms[i]);
		ck_assert_uint_eq(st.starttime, 98765);
		ck_assert_int_eq(st.nice, -3);
	}
	/* A kernel thread's long name is kept up to 63 bytes. */
	char buf[1024], longname[100];
	memset(longname, 'k', 80);
	longname[80] = '\0';
	size_t n = stat_line(buf, sizeof(buf), longname, STAT_TAIL);
	pp_stat st;
	ck_assert_int_eq(pp_parse_stat(buf, n, &st), 0);
	ck_assert_uint_eq(strlen(st.comm), PP_COMM_MAX - 1);
}
END_TEST

START_TEST(stat_truncated_and_garbage)
{
	pp_stat st;
	char buf[1024];
	/* Cut before starttime (field 22): refused. Cut after it: the rest is optional. */
	size_t n = stat_line(buf, sizeof(buf), "x", "S 1 2 3 0 -1 0 1 0 2 0 3 4 0 0 20 0 1 0");
	ck_assert_int_eq(pp_parse_stat(buf, n, &st), -1);
	n = stat_line(buf, sizeof(buf), "x", "S 1 2 3 0 -1 0 1 0 2 0 3 4 0 0 20 0 1 0 555");
	ck_assert_int_eq(pp_parse_stat(buf, n, &st), 0);
	ck_assert_uint_eq(st.starttime, 555);
	ck_assert_int_eq(st.processor, -1);
	static const char *const bad[] = {
	        "",
	        "4242",
	        "4242 (x",
	        "4242 x) S 1",
	        "(x) S 1 2 3 0 -1 0 1 0 2 0 3 4 0 0 20 0 1 0 555",
	        "4242 (x)S 1 2 3 0 -1 0 1 0 2 0 3 4 0 0 20 0 1 0 555",
	        "4242 (x) S 1 2 3 0 -1 0 1 0 2 0 3a 4 0 0 20 0 1 0 555",
	        "4242 (x) S 1 2 3 0 -1 0 1 0 2 0 3 4 0 0 20 0 1 0 99999999999999999999999",
	        "4242 (x) S -x 2 3 0 -1 0 1 0 2 0 3 4 0 0 20 0 1 0 555",
	        "4242 (x)  1 2",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(pp_parse_stat(bad[i], strlen(bad[i]), &st) == -1, "'%s'", bad[i]);
	/* A NUL in the middle ends the line there. */
	static const char nul[] = "4242 (x) S 1 2 3 0 -1 0 1 0 2\0 0 3 4 0 0 20 0 1 0 555";
	ck_assert_int_eq(pp_parse_stat(nul, sizeof(nul) - 1, &st), -1);
}
END_TEST

START_TEST(stat_random_bytes)
{
	/* Never a crash or a read past the end (the sanitizer build checks). */
	static const char alphabet[] = "0123456789 ()-\nSZ\0\xff";
	char buf[512];
	uint64_t seed = 0x2545F4914F6CDD1Du;
	for (int round = 0; round < 5000; round++) {
		size_t len = (size_t)(seed >> 35) % sizeof(buf);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			buf[i] = alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
		}
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		char *copy = malloc(len ? len : 1); /* exact size: ASan sees any overread */
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, buf, len);
		pp_stat st;
		(void)pp_parse_stat(copy, len, &st);
		pp_cgroup cg;
		(void)pp_parse_cgroup(copy, len, &cg);
		pp_pressure pr;
		pp_parse_pressure(copy, len, &pr);
		const char *p = copy, *rest, *rest_end;
		char dev[32], name[32];
		uint64_t v[PP_NETDEV_NCOUNTERS];
		while (pp_next_dev_line(&p, copy + len, dev, &rest, &rest_end) >= 0)
			;
		p = copy;
		while (pp_next_netdev(&p, copy + len, name, v) >= 0)
			;
		free(copy);
	}
}
END_TEST

static const pp_key status_keys[] = {
        {"VmRSS", PP_KB},
        {"Threads", PP_NUM},
        {"Seccomp", PP_STR},
        {"CapEff", PP_STR},
        {"Speculation_Store_Bypass", PP_STR},
        {"VmSwap", PP_KB},
};

START_TEST(status_kv)
{
	char buf[] = "Name:\tnginx\nVmPeak:\t  121024 kB\nVmRSS:\t   40000 kB\n"
	             "Threads:\t7\nCapEff:\t00000000a80425fb\nSeccomp:\t2\n"
	             "Seccomp_filters:\t1\nSpeculation_Store_Bypass:\tthread force mitigated  \n"
	             "VmRSS:\t1 kB\n";
	pp_val v[6];
	ck_assert_uint_eq(pp_parse_kv(buf, strlen(buf), ':', status_keys, 6, v), 5);
	ck_assert(v[0].present);
	ck_assert_uint_eq(v[0].num, 40000u * 1024); /* the first VmRSS wins */
	ck_assert_uint_eq(v[1].num, 7);
	ck_assert_str_eq(v[2].str, "2"); /* Seccomp, not Seccomp_filters */
	ck_assert_str_eq(v[3].str, "00000000a80425fb");
	ck_assert_str_eq(v[4].str, "thread force mitigated");
	ck_assert(!v[5].present);
}
END_TEST

START_TEST(status_kv_hostile)
{
	/* Garbage values leave the key absent; a last line without newline parses. */
	char buf[] = "VmRSS:\t12x kB\nThreads:\t-1\nVmSwap:\t99999999999999999999 kB\n"
	             "Seccomp:\t\nCapEff:\tff";
	pp_val v[6];
	pp_parse_kv(buf, strlen(buf), ':', status_keys, 6, v);
	ck_assert(!v[0].present);
	ck_assert(!v[1].present);
	ck_assert(!v[5].present);
	ck_assert(v[2].present);
	ck_assert_str_eq(v[2].str, "");
	ck_assert_str_eq(v[3].str, "ff");
	/* kB values that would overflow once multiplied are refused too. */
	char big[] = "VmRSS:\t18014398509481984 kB\n";
	pp_parse_kv(big, strlen(big), ':', status_keys, 6, v);
	ck_assert(!v[0].present);
	/* Empty input. */
	char empty[] = "";
	ck_assert_uint_eq(pp_parse_kv(empty, 0, ':', status_keys, 6, v), 0);
	/* cgroup style (space separated). */
	static const pp_key cg_keys[] = {{"usage_usec", PP_NUM}, {"nr_throttled", PP_NUM}};
	char cpu[] = "usage_usec 123456789\nuser_usec 1\nnr_throttled 25\n";
	pp_parse_kv(cpu, strlen(cpu), ' ', cg_keys, 2, v);
	ck_assert_uint_eq(v[0].num, 123456789);
	ck_assert_uint_eq(v[1].num, 25);
}
END_TEST

START_TEST(cmdline_bounds)
{
	char out[64];
	static const char args[] = "nginx\0-g\0daemon off;\0";
	ck_assert_uint_eq(pp_cmdline(args, sizeof(args) - 1, 60, out), 20);
	ck_assert_str_eq(out, "nginx -g daemon off;");
	ck_assert_uint_eq(pp_cmdline(args, sizeof(args) - 1, 8, out), 8);
	ck_assert_str_eq(out, "nginx -g");
	ck_assert_uint_eq(pp_cmdline("", 0, 8, out), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(pp_cmdline("\0\0\0", 3, 8, out), 0);
	/* "é" is two bytes: a cut through it drops it whole. */
	static const char utf[] = "ab\xc3\xa9\0cd";
	ck_assert_uint_eq(pp_cmdline(utf, sizeof(utf) - 1, 3, out), 2);
	ck_assert_str_eq(out, "ab");
	ck_assert_uint_eq(pp_cmdline(utf, sizeof(utf) - 1, 4, out), 4);
	ck_assert_str_eq(out, "ab\xc3\xa9");
	/* A setproctitle() line with no NULs, and embedded newlines, are kept as they are. */
	ck_assert_uint_eq(pp_cmdline("sshd: root@pts/0", 16, 60, out), 16);
	ck_assert_uint_eq(pp_cmdline("a\nb\0", 4, 60, out), 3);
	ck_assert_str_eq(out, "a\nb");
}
END_TEST

static const char *span(pp_span s, char *buf)
{
	if (!s.p)
		return "(null)";
	memcpy(buf, s.p, s.len);
	buf[s.len] = '\0';
	return buf;
}

START_TEST(cgroup_file)
{
	char b[256];
	int hier;
	pp_cgroup cg;
	static const char v2[] = "0::/kubepods.slice/x.scope\n";
	ck_assert_int_eq(pp_parse_cgroup(v2, strlen(v2), &cg), 0);
	ck_assert(!cg.v1_any);
	ck_assert_str_eq(span(pp_cgroup_path(&cg, &hier), b), "/kubepods.slice/x.scope");
	ck_assert_int_eq(hier, PP_CG_V2);

	/* v1 with cpu,cpuacct joined, and a name= hierarchy that is not a controller. */
	static const char v1[] = "12:hugetlb:/k\n3:memory:/kubepods/pod1/c\n"
	                         "2:cpu,cpuacct:/kubepods/pod1/c\n1:name=systemd:/system.slice/x\n"
	                         "0::/system.slice/x\n";
	ck_assert_int_eq(pp_parse_cgroup(v1, strlen(v1), &cg), 0);
	ck_assert(cg.v1_any);
	ck_assert_str_eq(span(cg.v1[PP_CG_CPU], b), "/kubepods/pod1/c");
	ck_assert_str_eq(span(cg.v1[PP_CG_CPUACCT], b), "/kubepods/pod1/c");
	ck_assert_str_eq(span(pp_cgroup_path(&cg, &hier), b), "/kubepods/pod1/c");
	ck_assert_int_eq(hier, PP_CG_CPU);

	/* This machine's shape: cpu at the root, memory elsewhere: memory places it. */
	static const char mixed[] = "4:memory:/process_api/51cb\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n"
	                            "0::/\n";
	ck_assert_int_eq(pp_parse_cgroup(mixed, strlen(mixed), &cg), 0);
	ck_assert_str_eq(span(pp_cgroup_path(&cg, &hier), b), "/process_api/51cb");
	ck_assert_int_eq(hier, PP_CG_MEMORY);
	static const char allroot[] = "2:cpu,cpuacct:/\n1:memory:/\n";
	ck_assert_int_eq(pp_parse_cgroup(allroot, strlen(allroot), &cg), 0);
	ck_assert_str_eq(span(pp_cgroup_path(&cg, &hier), b), "/");
	ck_assert_int_eq(hier, PP_CG_CPU);

	/* A removed cgroup, a path with ':' in it, a line without newline. */
	static const char odd[] = "0::/a:b/c (deleted)";
	ck_assert_int_eq(pp_parse_cgroup(odd, strlen(odd), &cg), 0);
	ck_assert_str_eq(span(cg.v2, b), "/a:b/c");

	static const char *const bad[] = {"", "garbage\n", "0:/x\n", "0::relative\n", "0::\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(pp_parse_cgroup(bad[i], strlen(bad[i]), &cg) == -1, "'%s'", bad[i]);
}
END_TEST

START_TEST(pressure_and_devices)
{
	pp_pressure p;
	static const char psi[] = "some avg10=1.00 avg60=0.50 avg300=0.10 total=1234567\n"
	                          "full avg10=0.00 avg60=0.00 avg300=0.00 total=234567\n";
	pp_parse_pressure(psi, strlen(psi), &p);
	ck_assert(p.some_ok && p.full_ok);
	ck_assert_uint_eq(p.some_total, 1234567);
	ck_assert_uint_eq(p.full_total, 234567);
	static const char some_only[] = "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n";
	pp_parse_pressure(some_only, strlen(some_only), &p);
	ck_assert(p.some_ok && !p.full_ok);
	static const char broken[] = "some avg10=0.00 total=12x\nfull total=\n";
	pp_parse_pressure(broken, strlen(broken), &p);
	ck_assert(!p.some_ok && !p.full_ok);

	static const char io[] = "254:0 rbytes=1048576 wbytes=409600 rios=256 wios=100 dbytes=0 "
	                         "dios=0\n7:3 rbytes=4096\nTotal 9\nx:y rbytes=1\n";
	const char *q = io, *rest, *rest_end;
	char dev[32];
	uint64_t v;
	ck_assert_int_eq(pp_next_dev_line(&q, io + strlen(io), dev, &rest, &rest_end), 1);
	ck_assert_str_eq(dev, "254:0");
	ck_assert(pp_kv_field(rest, rest_end, "wbytes", &v));
	ck_assert_uint_eq(v, 409600);
	ck_assert(pp_kv_field(rest, rest_end, "rios", &v));
	ck_assert_uint_eq(v, 256);
	ck_assert(!pp_kv_field(rest, rest_end, "bytes", &v));
	ck_assert_int_eq(pp_next_dev_line(&q, io + strlen(io), dev, &rest, &rest_end), 1);
	ck_assert_str_eq(dev, "7:3");
	ck_assert(!pp_kv_field(rest, rest_end, "wbytes", &v));
	ck_assert_int_eq(pp_next_dev_line(&q, io + strlen(io), dev, &rest, &rest_end), 0);
	ck_assert_int_eq(pp_next_dev_line(&q, io + strlen(io), dev, &rest, &rest_end), 0);
	ck_assert_int_eq(pp_next_dev_line(&q, io + strlen(io), dev, &rest, &rest_end), -1);
}
END_TEST

START_TEST(netdev_lines)
{
	static const char nd[] =
	        "Inter-|   Receive                                                |  Transmit\n"
	        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
	        "errs drop fifo colls carrier compressed\n"
	        "    lo:     100       2    0    0    0     0          0         0      100       2 "
	        "   0    0    0     0       0          0\n"
	        "  eth0: 9876543 12345 1 2 0 0 0 0 1234567 2345 3 4 0 0 0 0 7 8\n"
	        "  eth1: 1 2 3\n"
	        "bad name: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
	const char *p = nd, *end = nd + strlen(nd);
	char name[32];
	uint64_t v[PP_NETDEV_NCOUNTERS];
	ck_assert_int_eq(pp_next_netdev(&p, end, name, v), 0);
	ck_assert_int_eq(pp_next_netdev(&p, end, name, v), 0);
	ck_assert_int_eq(pp_next_netdev(&p, end, name, v), 1);
	ck_assert_str_eq(name, "lo");
	ck_assert_int_eq(pp_next_netdev(&p, end, name, v), 1);
	ck_assert_str_eq(name, "eth0");
	ck_assert_uint_eq(v[0], 9876543);
	ck_assert_uint_eq(v[11], 4);
	ck_assert_int_eq(pp_next_netdev(&p, end, name, v), 0); /* eth1: too few */
	ck_assert_int_eq(pp_next_netdev(&p, end, name, v), 0); /* a blank in the name */
	ck_assert_int_eq(pp_next_netdev(&p, end, name, v), -1);
}
END_TEST

/* ---- cgroup path -> pod and container ---- */

#define ID64 "c842e7e9efb61e3cc052505d39c50d0e0ae82d6b04405ac03322df3549cdf6e0"
#define UID  "1f8e2a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
#define UID_ "1f8e2a4c_5b6d_4e7f_8a9b_0c1d2e3f4a5b"

typedef struct map_case {
	const char *path;
	cg_kind kind;
	const char *uid;
	const char *id;
	const char *runtime;
	const char *qos;
	const char *pod_path;
	const char *ctr_path;
} map_case;

static const map_case map_cases[] = {
        /* systemd driver, every QoS and runtime */
        {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
         ".slice/cri-containerd-" ID64 ".scope",
         CG_CONTAINER, UID, ID64, "containerd", "burstable",
         "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice", NULL},
        {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
         ".slice/crio-" ID64 ".scope",
         CG_CONTAINER, UID, ID64, "cri-o", "besteffort", NULL, NULL},
        {"/kubepods.slice/kubepods-pod" UID_ ".slice/docker-" ID64 ".scope", CG_CONTAINER, UID,
         ID64, "docker", "guaranteed", "/kubepods.slice/kubepods-pod" UID_ ".slice",
         "/kubepods.slice/kubepods-pod" UID_ ".slice/docker-" ID64 ".scope"},
        /* a process in a cgroup nested inside its container */
        {"/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID64 ".scope/init/x",
         CG_CONTAINER, UID, ID64, "containerd", "guaranteed", NULL,
         "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID64 ".scope"},
        /* CRI-O's conmon: in the pod, in no container */
        {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
         ".slice/crio-conmon-" ID64 ".scope",
         CG_POD, UID, "", "", "burstable", NULL, NULL},
        /* the pod's own cgroup */
        {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice", CG_POD,
         UID, "", "", "burstable", NULL, NULL},
        /* kubelet --cgroup-root (kind, k3s): a prefix before kubepods */
        {"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
         "kubelet-kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" ID64 ".scope",
         CG_CONTAINER, UID, ID64, "containerd", "besteffort", NULL, NULL},
        /* a static pod's UID is a 32-digit hash */
        {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-"
         "pod5e1b3ad2e6a7c4ab9c95b2e8c1234abc.slice/cri-containerd-" ID64 ".scope",
         CG_CONTAINER, "5e1b3ad2e6a7c4ab9c95b2e8c1234abc", ID64, "containerd", "burstable", NULL,
         NULL},
        /* cgroupfs driver */
        {"/kubepods/burstable/pod" UID "/" ID64, CG_CONTAINER, UID, ID64, "", "burstable",
         "/kubepods/burstable/pod" UID, "/kubepods/burstable/pod" UID "/" ID64},
        {"/kubepods/besteffort/pod" UID "/" ID64, CG_CONTAINER, UID, ID64, "", "besteffort", NULL,
         NULL},
        {"/kubepods/pod" UID "/" ID64, CG_CONTAINER, UID, ID64, "", "guaranteed",
         "/kubepods/pod" UID, NULL},
        {"/kubepods/burstable/pod" UID "/crio-" ID64, CG_CONTAINER, UID, ID64, "cri-o", "burstable",
         NULL, NULL},
        {"/kubepods/burstable/pod" UID, CG_POD, UID, "", "", "burstable", NULL, NULL},
        {"/kubelet/kubepods/pod" UID "/" ID64, CG_CONTAINER, UID, ID64, "", "guaranteed", NULL,
         NULL},
        /* outside Kubernetes, and near misses that must not be taken for pods */
        {"/system.slice/ssh.service", CG_OTHER, "", "", "", "", NULL, NULL},
        {"/user.slice/user-1000.slice/session-3.scope", CG_OTHER, "", "", "", "", NULL, NULL},
        {"/", CG_OTHER, "", "", "", "", NULL, NULL},
        {"", CG_OTHER, "", "", "", "", NULL, NULL},
        {"/kubepods.slice/kubepods-burstable.slice", CG_OTHER, "", "", "", "", NULL, NULL},
        {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice", CG_OTHER, "",
         "", "", "", NULL, NULL},
        {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID ".slice", CG_OTHER,
         "", "", "", "", NULL, NULL}, /* dashes where systemd has '_' */
        {"/kubepods.slice/kubepods-weird.slice/kubepods-weird-pod" UID_ ".slice", CG_OTHER, "", "",
         "", "", NULL, NULL},
        {"/system.slice/pod" UID "/" ID64, CG_OTHER, "", "", "", "", NULL, NULL},
        {"/kubepods/burstable/pod" UID "/not-an-id", CG_POD, UID, "", "", "burstable", NULL, NULL},
        {"/kubepods/burstable/pod" UID "/abc", CG_POD, UID, "", "", "burstable", NULL, NULL},
        {"/kubepods/burstable/pod" UID_ "/" ID64, CG_OTHER, "", "", "", "", NULL, NULL},
};

START_TEST(cgroup_mapping)
{
	for (size_t i = 0; i < sizeof(map_cases) / sizeof(*map_cases); i++) {
		const map_case *c = &map_cases[i];
		cg_map_t m;
		cg_map(c->path, &m);
		ck_assert_msg(m.kind == c->kind, "%s: kind %d", c->path, m.kind);
		if (c->kind == CG_OTHER)
			continue;
		ck_assert_msg(strcmp(m.pod_uid, c->uid) == 0, "%s: uid %s", c->path, m.pod_uid);
		ck_assert_msg(strcmp(m.container_id, c->id) == 0, "%s: id %s", c->path,
		              m.container_id);
		ck_assert_msg(strcmp(m.runtime, c->runtime) == 0, "%s: runtime %s", c->path,
		              m.runtime);
		ck_assert_msg(strcmp(m.qos, c->qos) == 0, "%s: qos %s", c->path, m.qos);
		if (c->pod_path)
			ck_assert_msg(m.pod_len == strlen(c->pod_path) &&
			                      strncmp(c->path, c->pod_path, m.pod_len) == 0,
			              "%s: pod_len %zu", c->path, m.pod_len);
		if (c->ctr_path)
			ck_assert_msg(m.container_len == strlen(c->ctr_path),
			              "%s: container_len %zu", c->path, m.container_len);
	}
}
END_TEST

START_TEST(cgroupns_resolution)
{
	char out[512];
	const char *root = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	                   ".slice/crio-" ID64 ".scope";
	ck_assert_uint_eq(cg_updepth("/../../x"), 2);
	ck_assert_uint_eq(cg_updepth("/.."), 1);
	ck_assert_uint_eq(cg_updepth("/..x/y"), 0);
	ck_assert_uint_eq(cg_updepth("/kubepods"), 0);
	ck_assert_int_eq(cg_resolve(root, "/", out, sizeof(out)), 0);
	ck_assert_str_eq(out, root);
	ck_assert_int_eq(cg_resolve(root, "/../crio-abc.scope", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	                      ".slice/crio-abc.scope");
	ck_assert_int_eq(
	        cg_resolve(root, "/../../../kubepods-besteffort.slice/x.slice", out, sizeof(out)),
	        0);
	ck_assert_str_eq(out, "/kubepods.slice/kubepods-besteffort.slice/x.slice");
	ck_assert_int_eq(
	        cg_resolve(root, "/../../../../system.slice/crio.service", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/system.slice/crio.service");
	ck_assert_int_eq(cg_resolve(root, "/../../../..", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/");
	/* Never above the root, "." ignored, doubled slashes folded. */
	ck_assert_int_eq(cg_resolve("/a", "/../../../b//./c/", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/b/c");
	ck_assert_int_eq(cg_resolve("/", "/", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/");
	char tiny[8];
	ck_assert_int_eq(cg_resolve("/abcdef", "/ghijkl", tiny, sizeof(tiny)), -1);
}
END_TEST

START_TEST(cgroupns_root_search)
{
	char dir[4096], out[512];
	snprintf(dir, sizeof(dir), "%s", fixture("k8s-node-cgroupns/sys/fs/cgroup"));
	ck_assert_int_eq(cg_find_nsroot(dir, 2001, 1, out, sizeof(out)), 0);
	ck_assert_str_eq(out,
	                 "/kubepods.slice/kubepods-burstable.slice/"
	                 "kubepods-burstable-podc0b5a9e1_1111_4222_8333_944455556666.slice/"
	                 "crio-40908f2da66ab1e16b685014a46753e55cd6219d5299c0831f2ff9a5115cb1fc"
	                 ".scope");
	/* Lines are matched whole: "20010" and "12001" in a decoy are not 2001. */
	ck_assert_int_eq(cg_find_nsroot(dir, 1, 1, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/init.scope");
	/* Not shallower than asked: PID 1 lives at depth 1. */
	ck_assert_int_eq(cg_find_nsroot(dir, 1, 2, out, sizeof(out)), -1);
	ck_assert_int_eq(cg_find_nsroot(dir, 424242, 1, out, sizeof(out)), -1);
	ck_assert_int_eq(cg_find_nsroot("/nonexistent/cgroup", 1, 0, out, sizeof(out)), -1);
}
END_TEST

/* ---- index map ---- */

typedef struct item {
	int key;
	bool drop;
} item;

static const void *item_key(const void *p, size_t *len)
{
	*len = sizeof(int);
	return &((const item *)p)->key;
}

static bool item_gone(void *p, void *ctx)
{
	(void)ctx;
	return ((item *)p)->drop;
}

START_TEST(index_map)
{
	imap m;
	imap_init(&m, item_key);
	enum { N = 5000 };
	item *items = calloc(N, sizeof(*items));
	ck_assert_ptr_nonnull(items);
	for (int i = 0; i < N; i++) {
		items[i].key = i * 7919;
		ck_assert_int_eq(imap_add(&m, &items[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		int k = i * 7919;
		ck_assert_ptr_eq(imap_find(&m, &k, sizeof(k)), &items[i]);
		items[i].drop = i % 3 == 0;
	}
	int missing = 1;
	ck_assert_ptr_null(imap_find(&m, &missing, sizeof(missing)));
	ck_assert_uint_eq(imap_sweep(&m, item_gone, NULL), (N + 2) / 3);
	for (int i = 0; i < N; i++) {
		int k = i * 7919;
		ck_assert_ptr_eq(imap_find(&m, &k, sizeof(k)), i % 3 ? &items[i] : NULL);
	}
	ck_assert_uint_eq(m.n, N - (N + 2) / 3);
	imap_free(&m);
	free(items);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("procpid_parse");
	TCase *tp = tcase_create("parsers");
	tcase_add_test(tp, stat_fields);
	tcase_add_test(tp, stat_hostile_comms);
	tcase_add_test(tp, stat_truncated_and_garbage);
	tcase_add_test(tp, stat_random_bytes);
	tcase_add_test(tp, status_kv);
	tcase_add_test(tp, status_kv_hostile);
	tcase_add_test(tp, cmdline_bounds);
	tcase_add_test(tp, cgroup_file);
	tcase_add_test(tp, pressure_and_devices);
	tcase_add_test(tp, netdev_lines);
	suite_add_tcase(s, tp);
	TCase *tm = tcase_create("cgroups");
	tcase_add_test(tm, cgroup_mapping);
	tcase_add_test(tm, cgroupns_resolution);
	tcase_add_test(tm, cgroupns_root_search);
	tcase_add_test(tm, index_map);
	suite_add_tcase(s, tm);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
