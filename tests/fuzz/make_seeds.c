/*
 * Writes seed inputs for fuzz_wire_decode into a directory: real batch
 * bodies (each compression), a command frame's message, a heartbeat, a
 * result body. Mutating real messages reaches the validator far sooner
 * than random bytes do.
 *   make_seeds DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/wire.h>

static int put(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "make_seeds: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds DIR\n");
		return 2;
	}
	cobs_batch *b = cobs_batch_new();
	if (!b)
		return 1;
	b->timestamp_ms = 1718000000000;
	cobs_family *f = cobs_batch_family(b, "process_cpu_seconds_total", "CPU time.", "seconds",
	                                   COBS_COUNTER);
	cobs_family *g = cobs_batch_family(b, "process_memory_percent", "", "percent", COBS_GAUGE);
	cobs_family *i = cobs_batch_family(b, "kube_pod_info", "", "", COBS_INFO);
	char pid[16];
	for (int p = 1; p <= 4; p++) {
		snprintf(pid, sizeof(pid), "%d", p * 101);
		cobs_label l[] = {{"pid", pid}, {"comm", "a) (b"}, {"mode", "user"}};
		cobs_family_add(b, f, p * 12.34, l, 3);
		cobs_family_add(b, g, 1.0 / (p + 2), l, 2);
	}
	cobs_family_add2(b, i, 1, "namespace", "default", "pod", "web-1");
	cobs_wire_meta meta = {.node = "node-1",
	                       .agent_version = "0.1.0",
	                       .boot_id = "b",
	                       .sequence = 1,
	                       .interval_ms = 5000};
	static const cobs_wire_opts opts[] = {
	        {COBS_WIRE_NONE, 0}, {COBS_WIRE_ZSTD, 0}, {COBS_WIRE_DEFLATE, 0}};
	static const char *const names[] = {"batch-none", "batch-zstd", "batch-deflate"};
	cobs_buf out = {0};
	cobs_error err;
	for (int k = 0; k < 3; k++) {
		cobs_buf_clear(&out);
		if (cobs_wire_encode_batch(b, &meta, &opts[k], &out, &err) != 0 ||
		    put(argv[1], names[k], out.data, out.len) < 0)
			return 1;
	}
	cobs_command c = {.id = 7, .kind = COBS_COMMAND_PROFILE};
	c.profile.duration_s = 10;
	strcpy(c.profile.namespace_, "default");
	strcpy(c.profile.pod, "web-1");
	cobs_buf_clear(&out);
	/* The deframer's input is the whole frame; the stream decoder's, the message after 5 bytes.
	 */
	if (cobs_wire_frame_command(&c, &out, &err) != 0 ||
	    put(argv[1], "frame-command", out.data, out.len) < 0 ||
	    put(argv[1], "stream-command", out.data + 5, out.len - 5) < 0)
		return 1;
	cobs_buf_clear(&out);
	if (cobs_wire_frame_heartbeat(1718000000000, &out) != 0 ||
	    put(argv[1], "stream-heartbeat", out.data + 5, out.len - 5) < 0)
		return 1;
	cobs_command_result r = {.id = 7,
	                         .kind = COBS_RESULT_PROFILE,
	                         .data = (const uint8_t *)"main;spin 99\n",
	                         .len = 13};
	cobs_buf_clear(&out);
	if (cobs_wire_encode_result(&r, NULL, &out, &err) != 0 ||
	    put(argv[1], "result-zstd", out.data, out.len) < 0)
		return 1;
	cobs_buf_free(&out);
	cobs_batch_free(b);
	return 0;
}
