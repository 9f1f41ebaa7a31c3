/*
 * Robustness, bounded: 2000 random and mutated bodies posted to ingest
 * (flipped bytes, truncations, splices, random lengths, each compression).
 * Every one gets an answer (204 or 400, nothing else), and afterwards the
 * server still answers /healthz and still takes a valid batch.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "test_server_util.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static cobs_buf valid_body(uint64_t seq, cobs_wire_compression comp)
{
	cobs_batch *b = cobs_batch_new();
	b->timestamp_ms = 1700000000000 + (int64_t)seq * 1000;
	cobs_family *f =
	        cobs_batch_family(b, "node_cpu_seconds_total", "CPU.", "seconds", COBS_COUNTER);
	for (int cpu = 0; cpu < 4; cpu++) {
		char c[8];
		snprintf(c, sizeof(c), "%d", cpu);
		cobs_family_add2(b, f, 100.5 * cpu, "cpu", c, "mode", "user");
		cobs_family_add2(b, f, 7 * cpu, "cpu", c, "mode", "system");
	}
	f = cobs_batch_family(b, "process_resident_memory_bytes", "RSS.", "bytes", COBS_GAUGE);
	cobs_label l[] = {{"pid", "1"}, {"comm", "init"}, {"namespace", "ns"}, {"pod", "p"}};
	cobs_family_add(b, f, 123456, l, 4);
	cobs_buf body = {0};
	ck_assert_int_eq(make_body(b, "fuzz-node", "boot", seq, 5000, comp, &body), 0);
	cobs_batch_free(b);
	return body;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static void mutate(cobs_buf *m, const cobs_buf *seed, const cobs_buf *other)
{
	cobs_buf_clear(m);
	switch (next() % 6) {
	case 0: /* random bytes */
	{
		size_t n = next() % 512;
		for (size_t i = 0; i < n; i++) {
			char c = (char)next();
			cobs_buf_append(m, &c, 1);
		}
		break;
	}
	case 1: /* truncated */
		cobs_buf_append(m, seed->data, next() % (seed->len + 1));
		break;
	default: /* flipped bytes, maybe spliced with another body */
		cobs_buf_append(m, seed->data, seed->len);
		for (int k = (int)(next() % 8) + 1; k > 0; k--)
			m->data[next() % m->len] ^= (char)(1u << (next() % 8));
		if (next() % 4 == 0) {
			size_t cut = next() % m->len;
			m->len = cut;
			cobs_buf_append(m, other->data + next() % other->len, next() % 64);
		}
		break;
	}
}

START_TEST(mutated_bodies_never_hurt)
{
	test_srv srv;
	ck_assert_int_eq(tsrv_start(&srv, "[server]\nlog_level = error\n", NULL), 0);
	cobs_buf seeds[3] = {valid_body(1, COBS_WIRE_NONE), valid_body(2, COBS_WIRE_ZSTD),
	                     valid_body(3, COBS_WIRE_DEFLATE)};
	cobs_buf m = {0};
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
	curl_easy_setopt(c, CURLOPT_URL, tsrv_at(&srv, "api/v1/ingest"));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	int seen[600] = {0};
	for (int i = 0; i < 2000; i++) {
		mutate(&m, &seeds[i % 3], &seeds[(i + 1) % 3]);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, m.data ? m.data : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)m.len);
		ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
		long st = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
		ck_assert_msg(st == 204 || st == 400, "request %d: status %ld", i, st);
		seen[st]++;
	}
	ck_assert_int_gt(seen[400], 1000);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);

	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "healthz"), NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	cobs_buf good = valid_body(100000, COBS_WIRE_ZSTD);
	ck_assert_int_eq(post_body(&srv, &good, NULL), 204);
	cobs_buf_free(&good);
	char *metrics = http_get(tsrv_at(&srv, "metrics"));
	ck_assert_ptr_nonnull(metrics);
	double v;
	ck_assert(metric_value(metrics, "cobs_server_ingest_batches_total{result=\"bad\"}", &v) &&
	          v == seen[400]);
	free(metrics);
	for (int i = 0; i < 3; i++)
		cobs_buf_free(&seeds[i]);
	cobs_buf_free(&m);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("server_robust");
	TCase *tc = tcase_create("robust");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, mutated_bodies_never_hurt);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
