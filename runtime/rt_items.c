/* rt_items.c — sequential media types (OpenAPI 3.2 itemSchema): JSON
 * Lines, NDJSON, JSON text sequences and Server-Sent Events, read and
 * written item by item. */
#include "rt_items.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { RT_ITEMS_LINES, RT_ITEMS_SEQ, RT_ITEMS_SSE, RT_ITEMS_NONE };

static int rt_items_kind(const char *mt)
{
	static const struct { const char *name; int kind; } kinds[] = {
		{ "application/jsonl", RT_ITEMS_LINES }, { "application/x-ndjson", RT_ITEMS_LINES },
		{ "application/json-seq", RT_ITEMS_SEQ }, { "text/event-stream", RT_ITEMS_SSE },
	};
	size_t n = mt ? strcspn(mt, "; \t") : 0;

	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strlen(kinds[i].name) == n && strncasecmp(mt, kinds[i].name, n) == 0)
			return kinds[i].kind;
	return RT_ITEMS_NONE;
}

int rt_items_is_sequential(const char *media_type)
{
	return rt_items_kind(media_type) != RT_ITEMS_NONE;
}

/* One event (its lines, len bytes, not NUL-terminated) as an object of
 * its fields: data lines joined with newlines, event, id, retry (a number);
 * comments and unknown fields left out. NULL when it has no field. */
static json_t *rt_items_event(const char *s, size_t len)
{
	json_t *ev = json_object();
	char *data = NULL;
	size_t dlen = 0;

	for (const char *l = s, *end = s + len; ev && l < end;) {
		size_t ll = 0, nl, vl, digits = 0;
		const char *colon, *v;
		while (l + ll < end && l[ll] != '\r' && l[ll] != '\n')
			ll++;
		colon = memchr(l, ':', ll);
		nl = colon ? (size_t)(colon - l) : ll;
		v = colon ? colon + 1 : l + ll;
		vl = (size_t)(l + ll - v);
		if (vl && *v == ' ')
			v++, vl--;
		while (digits < vl && v[digits] >= '0' && v[digits] <= '9')
			digits++;
		if (nl == 4 && strncmp(l, "data", 4) == 0) {
			char *nd = realloc(data, dlen + vl + 2);
			if (nd) {
				if (data)
					nd[dlen++] = '\n';
				memcpy(nd + dlen, v, vl);
				dlen += vl;
				nd[dlen] = '\0';
				data = nd;
			}
		} else if (nl && ((nl == 5 && strncmp(l, "event", 5) == 0) || (nl == 2 && strncmp(l, "id", 2) == 0))) {
			json_object_set_new(ev, nl == 2 ? "id" : "event", json_stringn(v, vl));
		} else if (nl == 5 && strncmp(l, "retry", 5) == 0 && vl && digits == vl && vl <= 18) {
			char num[20];
			memcpy(num, v, vl);
			num[vl] = '\0';
			json_object_set_new(ev, "retry", json_integer(strtoll(num, NULL, 10)));
		}
		l += ll;
		l += l < end && *l == '\r';
		l += l < end && *l == '\n';
	}
	if (data)
		json_object_set_new(ev, "data", json_stringn(data, dlen));
	free(data);
	if (ev && json_object_size(ev) == 0) {
		json_decref(ev);
		ev = NULL;
	}
	return ev;
}

/* Where the record starting at p ends (before end). */
static const char *rt_items_record_end(int kind, const char *p, const char *end)
{
	const char *e;

	if (kind == RT_ITEMS_SSE) {
		/* an event ends at an empty line */
		for (const char *q = p; q < end; q++)
			if (*q == '\n' && q + 1 < end && (q[1] == '\n' || (q[1] == '\r' && q + 2 < end && q[2] == '\n')))
				return q + 1;
		return end;
	}
	e = memchr(p, kind == RT_ITEMS_SEQ ? 0x1e : '\n', (size_t)(end - p));
	if (kind == RT_ITEMS_SEQ && e == p)
		e = memchr(p + 1, 0x1e, (size_t)(end - p - 1));
	return e ? e : end;
}

int rt_items_read(const char *media_type, const char *buf, size_t len, json_t **items, rt_errors *errs)
{
	int kind = rt_items_kind(media_type), seq = kind == RT_ITEMS_SEQ;
	const char *end = buf ? buf + len : NULL;
	size_t before = errs->n;

	*items = json_array();
	for (const char *p = buf; *items && buf && p < end;) {
		const char *rec_end = rt_items_record_end(kind, p, end);
		const char *s = p + (seq && *p == 0x1e), *e = rec_end;
		size_t n = json_array_size(*items);
		json_t *item;
		/* blank space around a JSON text; only line breaks around an event,
		   whose field values keep their spaces */
		while (s < e && (*s == '\r' || *s == '\n' || (kind != RT_ITEMS_SSE && (*s == ' ' || *s == '\t'))))
			s++;
		while (e > s && (e[-1] == '\r' || e[-1] == '\n' || (kind != RT_ITEMS_SSE && (e[-1] == ' ' || e[-1] == '\t'))))
			e--;
		p = rec_end + (!seq && rec_end < end);
		if (s == e)
			continue;
		if (kind == RT_ITEMS_SSE) {
			item = rt_items_event(s, (size_t)(e - s));
			if (!item)
				continue; /* comments only */
		} else {
			json_error_t je;
			item = json_loadb(s, (size_t)(e - s), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
			if (!item) {
				char ptr[32];
				snprintf(ptr, sizeof ptr, "/%zu", n);
				rt_errors_add(errs, ptr, "json", "item %zu is not JSON: %s", n, je.text);
				item = json_null();
			}
		}
		json_array_append_new(*items, item);
	}
	return (int)(errs->n - before);
}

/* Whether errs says the item at ptr could not be read (it stands as null). */
static int rt_items_unread(const rt_errors *errs, const char *ptr)
{
	for (size_t i = 0; i < errs->n; i++)
		if (strcmp(errs->v[i].pointer, ptr) == 0 && strcmp(errs->v[i].keyword, "json") == 0)
			return 1;
	return 0;
}

int rt_items_validate(const rt_schema *schema, const json_t *items, enum rt_dir dir, rt_errors *errs)
{
	size_t before = errs->n, i;
	json_t *item;

	json_array_foreach(items, i, item) {
		rt_errors ierr;
		char ptr[32];
		snprintf(ptr, sizeof ptr, "/%zu", i);
		rt_errors_init(&ierr);
		if (!json_is_null(item) || !rt_items_unread(errs, ptr))
			rt_schema_validate(schema, item, dir, &ierr);
		for (size_t k = 0; k < ierr.n; k++) {
			char *jp = NULL;
			if (asprintf(&jp, "%s%s", ptr, ierr.v[k].pointer) < 0)
				jp = NULL;
			rt_errors_add(errs, jp ? jp : ptr, ierr.v[k].keyword, "item %zu%s%s: %s", i,
			              ierr.v[k].pointer[0] ? " at " : "", ierr.v[k].pointer, ierr.v[k].message);
			free(jp);
		}
		rt_errors_free(&ierr);
	}
	return (int)(errs->n - before);
}

/* Whether s (n bytes) holds a line break, which would end its field. */
static int rt_items_breaks(const char *s, size_t n)
{
	return memchr(s, '\n', n) || memchr(s, '\r', n) || memchr(s, '\0', n);
}

/* One event's field lines into w; NULL, or why it cannot be written. */
static const char *rt_items_write_event(rt_json_writer *w, const json_t *ev)
{
	const char *k;
	json_t *v;

	if (!json_is_object(ev))
		return "an event must be an object of its fields (data, event, id, retry)";
	if (json_object_size(ev) == 0)
		return "an event without a field is no event (a reader skips it)";
	json_object_foreach((json_t *)ev, k, v) {
		int data = strcmp(k, "data") == 0, text = data || strcmp(k, "event") == 0 || strcmp(k, "id") == 0;
		if (!text && strcmp(k, "retry") != 0)
			return "an event has only the fields data, event, id and retry";
		if (text && !json_is_string(v))
			return "an event's data, event and id are strings";
		if (!text && (!json_is_integer(v) || json_integer_value(v) < 0))
			return "an event's retry is a non-negative integer";
		if (text && !data && rt_items_breaks(json_string_value(v), json_string_length(v)))
			return "an event's event and id cannot hold a line break";
		if (data && memchr(json_string_value(v), '\0', json_string_length(v)))
			return "an event's data cannot hold a NUL character";
	}
	json_object_foreach((json_t *)ev, k, v) {
		if (strcmp(k, "retry") == 0) {
			char line[40];
			int n = snprintf(line, sizeof line, "retry: %lld\n", (long long)json_integer_value(v));
			rt_json_write_raw(w, line, (size_t)n);
		} else if (strcmp(k, "data") == 0) {
			/* a line each, at \r\n, \n or \r, as a reader splits them */
			const char *l = json_string_value(v), *e = l + json_string_length(v);
			for (;;) {
				size_t ll = 0;
				while (l + ll < e && l[ll] != '\r' && l[ll] != '\n')
					ll++;
				rt_json_write_raw(w, "data: ", 6);
				rt_json_write_raw(w, l, ll);
				rt_json_write_raw(w, "\n", 1);
				l += ll;
				if (l == e)
					break;
				l += *l == '\r' && l + 1 < e && l[1] == '\n' ? 2 : 1;
			}
		} else {
			rt_json_write_raw(w, k, strlen(k));
			rt_json_write_raw(w, ": ", 2);
			rt_json_write_raw(w, json_string_value(v), json_string_length(v));
			rt_json_write_raw(w, "\n", 1);
		}
	}
	rt_json_write_raw(w, "\n", 1);
	return NULL;
}

int rt_items_write(const char *media_type, const json_t *items, rt_json_writer *w, rt_errors *errs)
{
	int kind = rt_items_kind(media_type);
	size_t before = errs->n, i;
	json_t *item;

	if (kind == RT_ITEMS_NONE || !json_is_array(items)) {
		rt_errors_add(errs, "", "items", kind == RT_ITEMS_NONE ? "%s is not a sequential media type"
		              : "the items of a %s body must be an array", media_type ? media_type : "(none)");
		return 1;
	}
	json_array_foreach(items, i, item) {
		char ptr[32];
		const char *why = NULL;
		snprintf(ptr, sizeof ptr, "/%zu", i);
		if (kind == RT_ITEMS_SSE) {
			why = rt_items_write_event(w, item);
		} else {
			if (kind == RT_ITEMS_SEQ)
				rt_json_write_raw(w, "\x1e", 1);
			rt_json_write_value(w, item);
			rt_json_write_raw(w, "\n", 1);
		}
		if (why)
			rt_errors_add(errs, ptr, "items", "item %zu: %s", i, why);
	}
	return (int)(errs->n - before);
}
