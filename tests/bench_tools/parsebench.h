/* parsebench.h — the shape of a typed body parser, as bench-parse's driver
 * (parsebench.c) calls it and as oapigen's generated parsers will have it:
 * bytes in (no NUL needed), the validated model out, its memory in the
 * request's arena, every violation appended to errs. Returns 0 when valid,
 * the number of violations added (malformed JSON is one, keyword "json",
 * with nothing else), or < 0 when out of memory. */
#ifndef PARSEBENCH_H
#define PARSEBENCH_H

#include <stddef.h>

#include "rt_arena.h"
#include "rt_errors.h"

typedef int (*bench_parse_fn)(const char *buf, size_t len, rt_arena *arena, void *model_out, rt_errors *errs);

typedef struct bench_parser {
	const char *name;             /* the case it parses (CASES.json "name"); NULL ends the table */
	bench_parse_fn parse;
	size_t model_size;            /* bytes of *model_out */
	void (*release)(void *model); /* NULL: the arena holds all of it */
} bench_parser;

/* Typed parsers by case name, {NULL}-terminated, defined by a file linked
   in beside parsebench.c (weak there: the bench runs without any). */
extern const bench_parser bench_parsers[];

#endif
