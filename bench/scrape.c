/*
 * Scrapes http://127.0.0.1:PORT/metrics N times (one HTTP/1.0 request per
 * connection) and reports the CPU time the serving process spent per scrape,
 * read from its /proc/PID/stat, and its resident memory.
 *   bench_scrape PORT N PID [pause_ms]
 * With pause_ms the scrapes are spaced out like a real scraper's, so the
 * server runs with cold caches as an agent's tick does.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* utime + stime of pid in clock ticks, or -1. */
static long long cpu_ticks(int pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* comm may hold spaces: fields start after the last ')' */
	unsigned long long ut, st;
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static long rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* One GET; returns the body size, or -1. */
static long scrape(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	const char req[] = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
	if (write(s, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
		close(s);
		return -1;
	}
	char buf[65536];
	long total = 0;
	ssize_t n;
	while ((n = read(s, buf, sizeof(buf))) > 0)
		total += n;
	close(s);
	return total;
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: bench_scrape PORT N PID [pause_ms]\n");
		return 2;
	}
	int port = atoi(argv[1]), n = atoi(argv[2]), pid = atoi(argv[3]);
	long pause_ms = argc == 5 ? atol(argv[4]) : 0;
	struct timespec pause = {pause_ms / 1000, (pause_ms % 1000) * 1000000};
	for (int i = 0; i < 20; i++) /* warm-up */
		scrape(port);
	long long t0 = cpu_ticks(pid);
	long bytes = 0;
	for (int i = 0; i < n; i++) {
		if (pause_ms > 0)
			nanosleep(&pause, NULL);
		long b = scrape(port);
		if (b < 0) {
			fprintf(stderr, "scrape %d failed\n", i);
			return 1;
		}
		bytes = b;
	}
	long long t1 = cpu_ticks(pid);
	double ms = (double)(t1 - t0) * 1000.0 / (double)sysconf(_SC_CLK_TCK) / n;
	printf("scrapes: %d, pause between scrapes: %ld ms, bytes per scrape: %ld\n", n, pause_ms,
	       bytes);
	printf("cpu_ms_per_scrape %.3f\n", ms);
	printf("rss_kib %ld\n", rss_kib(pid));
	return 0;
}
