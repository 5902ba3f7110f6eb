/* replay.c — main() for a fuzz target outside libFuzzer: runs every file
 * named on the command line (or every file in a named folder) through
 * LLVMFuzzerTestOneInput once, in name order, and prints
 * "fuzz-replay-<target>: N passed, 0 failed". An input that crashes ends the
 * run with the crash (and a non-zero exit), which the test runner counts as
 * a failure. */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long len;
	int rc = -1;

	if (!f) {
		perror(path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto cleanup;
	buf = malloc((size_t)len + 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
		goto cleanup;
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	rc = 0;
cleanup:
	if (rc != 0)
		fprintf(stderr, "%s: cannot read\n", path);
	free(buf);
	fclose(f);
	return rc;
}

static int replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs path, or each regular file in it; adds to *n; -1 on a read error. */
static int replay_path(const char *path, size_t *n)
{
	struct stat sb;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t count = 0, cap = 0;
	int rc = 0;

	if (stat(path, &sb) != 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		if (replay_file(path) != 0)
			return -1;
		(*n)++;
		return 0;
	}
	d = opendir(path);
	if (!d) {
		perror(path);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char *full;
		if (e->d_name[0] == '.')
			continue;
		if (count == cap) {
			char **v = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *v);
			if (!v) {
				rc = -1;
				break;
			}
			names = v;
		}
		if (asprintf(&full, "%s/%s", path, e->d_name) < 0) {
			rc = -1;
			break;
		}
		names[count++] = full;
	}
	closedir(d);
	if (names)
		qsort(names, count, sizeof *names, replay_cmp);
	for (size_t i = 0; i < count; i++) {
		if (rc == 0 && stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (replay_file(names[i]) != 0)
				rc = -1;
			else
				(*n)++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	size_t n = 0;
	int bad = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		if (replay_path(argv[i], &n) != 0)
			bad = 1;
	printf("fuzz-replay-%s: %zu passed, %d failed\n", name, n, bad);
	return bad;
}
