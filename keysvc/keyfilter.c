/* keyfilter.c — a Bloom filter over key HMACs; see keyfilter.h. */
#include "keyfilter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 16 bits per hash and 8 probes: (1 - e^(-1/2))^8, about 0.05% false positives. */
#define KEYFILTER_BITS_PER 16
#define KEYFILTER_PROBES 8

struct keyfilter {
	uint64_t *words;
	uint64_t nbits;        /* a power of two */
	size_t capacity;
	size_t count;
};

int keyfilter_new(size_t capacity, keyfilter **out)
{
	keyfilter *f;
	uint64_t bits = 64;

	*out = NULL;
	if (capacity == 0)
		capacity = 65536;
	while (bits < (uint64_t)capacity * KEYFILTER_BITS_PER)
		bits <<= 1;
	f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	f->words = calloc(bits / 64, sizeof *f->words);
	if (!f->words) {
		free(f);
		return -1;
	}
	f->nbits = bits;
	f->capacity = capacity;
	*out = f;
	return 0;
}

void keyfilter_free(keyfilter *f)
{
	if (!f)
		return;
	free(f->words);
	free(f);
}

/* Probe i: 32 bits of the HMAC (8 probes use all 32 bytes). */
static uint64_t keyfilter_bit(const keyfilter *f, const unsigned char *hash, int i)
{
	uint32_t v;

	memcpy(&v, hash + 4 * i, sizeof v);
	return (uint64_t)v & (f->nbits - 1);
}

void keyfilter_add(keyfilter *f, const unsigned char hash[STORE_HASH_LEN])
{
	for (int i = 0; i < KEYFILTER_PROBES; i++) {
		uint64_t b = keyfilter_bit(f, hash, i);
		__atomic_fetch_or(&f->words[b / 64], (uint64_t)1 << (b % 64), __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&f->count, 1, __ATOMIC_RELAXED);
}

int keyfilter_maybe(const keyfilter *f, const unsigned char hash[STORE_HASH_LEN])
{
	for (int i = 0; i < KEYFILTER_PROBES; i++) {
		uint64_t b = keyfilter_bit(f, hash, i);
		if (!(__atomic_load_n(&f->words[b / 64], __ATOMIC_RELAXED) & ((uint64_t)1 << (b % 64))))
			return 0;
	}
	return 1;
}

size_t keyfilter_count(const keyfilter *f)
{
	return __atomic_load_n(&f->count, __ATOMIC_RELAXED);
}

size_t keyfilter_capacity(const keyfilter *f)
{
	return f->capacity;
}
