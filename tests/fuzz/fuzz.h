/* fuzz.h — what every fuzz target in tests/fuzz/ defines: libFuzzer's entry
 * points. The same objects link either with libFuzzer (make fuzz, clang,
 * build-fuzz/) or with replay.c's main (make test-fuzz-replay), which runs
 * the committed seeds and regression inputs through them once each. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* One input; returns 0. A finding is a crash (abort, sanitizer report). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Once before the first input; may be left undefined. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts with a message naming the broken rule (the fuzzer's oracle). */
#define FUZZ_ASSERT(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

#endif
