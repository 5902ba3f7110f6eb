/* roundtrip.c — the generated model readers and writers of the kitchen
 * fixture (tests/generator/golden/kitchen): a document in the model's
 * property order, read into its model and written back, is byte for byte
 * what jansson writes for it (json_dumps, compact) and what the json_t
 * response path sends for it (rt_json_dumpb); and what a model is
 * given is what the JSON says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kitchen_api.h"
#include "models_api.h"

static int pass, fail;

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (cond) {                                               \
			pass++;                                           \
		} else {                                                  \
			fail++;                                           \
			printf("FAIL  line %d: ", __LINE__);              \
			printf(__VA_ARGS__);                              \
			printf("\n");                                     \
		}                                                         \
	} while (0)

/* text -> json -> model -> text, against jansson's text of the same json */
#define ROUNDTRIP(type, text)                                                                    \
	do {                                                                                     \
		json_error_t e;                                                                  \
		json_t *j = json_loads(text, JSON_DECODE_ANY, &e);                               \
		char *want = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;           \
		_Alignas(max_align_t) char first[512];                                           \
		rt_arena a;                                                                      \
		type m;                                                                          \
		rt_json_writer w;                                                                \
		rt_arena_init(&a, first, sizeof first);                                          \
		rt_json_writer_init(&w);                                                         \
		CHECK(j && type##_from_json(j, &a, &m) == 0, "%s reads %s", #type, text);        \
		if (j && want) {                                                                 \
			type##_write(&w, &m);                                                    \
			CHECK(!w.failed && w.used == strlen(want) && memcmp(w.buf, want, w.used) == 0, \
			      "%s writes %.*s, jansson %s", #type, (int)w.used, w.buf, want);   \
			/* and what rt_respond sends for the json_t (rt_json_dumpb) */          \
			char sent[4096];                                                         \
			size_t ns = rt_json_dumpb(j, sent, sizeof sent);                         \
			CHECK(ns == w.used && memcmp(sent, w.buf, ns) == 0,                      \
			      "%s writes %.*s, the json_t path %.*s", #type, (int)w.used, w.buf, \
			      (int)(ns < sizeof sent ? ns : sizeof sent), sent);                 \
		}                                                                                \
		rt_json_writer_free(&w);                                                         \
		rt_arena_free(&a);                                                               \
		free(want);                                                                      \
		json_decref(j);                                                                  \
	} while (0)

int main(void)
{
	ROUNDTRIP(kitchen_Pet, "{\"id\":42,\"name\":\"Tom\",\"kind\":\"cat\"}");
	ROUNDTRIP(kitchen_Pet, "{\"id\":-9223372036854775808,\"name\":\"Tab\\t \\\"q\\\" \\u00e9 \\ud83d\\udd11 \\u0001\","
	                       "\"kind\":\"dog\",\"nickname\":null,\"born\":\"2020-02-29\","
	                       "\"details\":{\"type\":\"Dog\",\"barks\":3}}");
	ROUNDTRIP(kitchen_Pet, "{\"id\":1,\"name\":\"x\",\"kind\":\"cat\",\"nickname\":\"Kit\",\"details\":{\"type\":\"Cat\",\"indoor\":false}}");
	ROUNDTRIP(kitchen_Tree, "{\"value\":1.5,\"children\":[{\"value\":2.0},{\"children\":[]},{\"value\":1e-7,\"children\":[{\"value\":1e300}]}]}");
	ROUNDTRIP(kitchen_Tree, "{}");
	/* a union told apart by JSON type (label: string, integer, array, Cat) */
	ROUNDTRIP(kitchen_Pet, "{\"name\":\"L\",\"kind\":\"cat\",\"label\":\"tabby \\u00e9\"}");
	ROUNDTRIP(kitchen_Pet, "{\"name\":\"L\",\"kind\":\"cat\",\"label\":-9223372036854775807}");
	ROUNDTRIP(kitchen_Pet, "{\"name\":\"L\",\"kind\":\"cat\",\"label\":[\"a\",\"\",\"c\"]}");
	ROUNDTRIP(kitchen_Pet, "{\"name\":\"L\",\"kind\":\"cat\",\"label\":[]}");
	ROUNDTRIP(kitchen_Pet, "{\"name\":\"L\",\"kind\":\"cat\",\"label\":{\"type\":\"Cat\",\"indoor\":true}}");
	ROUNDTRIP(kitchen_listPets_200, "[]");
	ROUNDTRIP(kitchen_listPets_200, "[{\"id\":1,\"name\":\"a\",\"kind\":\"cat\"},{\"id\":2,\"name\":\"b\",\"kind\":\"dog\"}]");
	ROUNDTRIP(kitchen_Error, "{\"code\":\"E\",\"message\":\"\"}");
	/* the models fixture: a row of the README's mapping table per member */
	ROUNDTRIP(models_Typed, "{\"id\":1,\"name\":\"n\",\"ratio\":0.25,\"ok\":true,\"tags\":[],\"status\":\"active\",\"where\":{}}");
	ROUNDTRIP(models_Typed, "{\"id\":-5,\"name\":\"\\u00fcml\",\"ratio\":-1e+20,\"ok\":false,\"note\":null,"
	                        "\"tags\":[\"a\",\"b\"],\"points\":[{\"x\":1.0,\"y\":-2.5}],\"status\":\"retired\","
	                        "\"where\":{\"lat\":48.1,\"lon\":11.6},\"counts\":{\"z\":1,\"a\":-2},"
	                        "\"shape\":{\"shape\":\"square\",\"side\":2.0},\"size\":\"XL\","
	                        "\"owner\":{\"name\":\"o\",\"created\":\"2026-01-01T00:00:00Z\"},\"parent\":{\"name\":\"p\"},"
	                        "\"secret\":\"s\"}");
	ROUNDTRIP(models_Typed, "{\"id\":2,\"name\":\"n\",\"ratio\":3.0,\"ok\":true,\"note\":\"x\",\"tags\":[],"
	                        "\"status\":\"active\",\"where\":{\"lon\":0.0},\"counts\":{},\"shape\":{\"shape\":\"circle\",\"radius\":1.5},"
	                        "\"size\":42}");
	ROUNDTRIP(models_Typed, "{\"id\":4,\"name\":\"n\",\"ratio\":1.0,\"ok\":true,\"tags\":[],\"status\":\"active\","
	                        "\"where\":{},\"tree\":{\"label\":\"root\",\"children\":{\"a\":{\"children\":{}},"
	                        "\"b\":{\"label\":\"leaf\",\"children\":{\"c\":{}}}}}}");
	ROUNDTRIP(models_Typed, "{\"id\":5,\"name\":\"n\",\"ratio\":1.0,\"ok\":true,\"tags\":[],\"status\":\"active\","
	                        "\"where\":{},\"labels\":{\"name\":\"x\",\"zone\":\"eu\",\"tier\":\"\"},"
	                        "\"meta\":{\"version\":2,\"a\":null,\"b\":-1}}");
	ROUNDTRIP(models_Typed, "{\"id\":7,\"name\":\"n\",\"ratio\":1.0,\"ok\":true,\"tags\":[],\"status\":\"active\","
	                        "\"where\":{},\"scores\":{\"a\":1.5,\"b\":null,\"c\":-2.0,\"d\":0.0}}");
	ROUNDTRIP(models_Typed, "{\"id\":6,\"name\":\"n\",\"ratio\":1.0,\"ok\":true,\"tags\":[],\"status\":\"active\","
	                        "\"where\":{},\"labels\":{},\"meta\":{\"version\":0}}");
	ROUNDTRIP(models_Typed, "{\"id\":3,\"name\":\"n\",\"ratio\":1.0,\"ok\":true,\"tags\":[],\"status\":\"active\","
	                        "\"where\":{},\"size\":null}");
	ROUNDTRIP(models_putMap_body, "{\"b\":{\"x\":1.0,\"y\":2.0},\"a\":{\"x\":0.5,\"y\":0.0}}");
	ROUNDTRIP(models_getList_200, "[{\"x\":1.0,\"y\":2.0}]");
	ROUNDTRIP(models_Untyped, "{\"anything\":[1,{\"k\":null}],\"either\":{\"a\":\"x\"},\"mixed\":7,\"pair\":[\"s\",1],"
	                          "\"grid\":[[1,2],[]],\"maybes\":[1,null],\"free\":{\"q\":true},\"patterned\":{\"x-a\":\"b\"},"
	                          "\"negated\":\"fine\",\"closed\":{\"a\":\"b\"},\"odd\":\"abc\"}");
	{
		/* what the model holds */
		json_t *j = json_loads("{\"id\":7,\"name\":\"Rex\",\"kind\":\"dog\",\"nickname\":null,"
		                       "\"details\":{\"type\":\"Dog\",\"barks\":2}}", 0, NULL);
		_Alignas(max_align_t) char first[256];
		rt_arena a;
		kitchen_Pet p;
		rt_arena_init(&a, first, sizeof first);
		CHECK(j && kitchen_Pet_from_json(j, &a, &p) == 0, "reads Rex");
		CHECK(p.has_id && p.id == 7 && p.name_len == 3 && memcmp(p.name, "Rex", 3) == 0, "id and name");
		CHECK(p.kind == KITCHEN_PET_KIND_DOG && strcmp(kitchen_Pet_kind_text(p.kind), "dog") == 0, "the enum");
		CHECK(p.has_nickname && p.nickname_null, "null, as distinct from absent");
		CHECK(!p.has_born, "absent");
		CHECK(p.has_details && p.details.tag == KITCHEN_PET_DETAILS_DOG && p.details.u.Dog.barks == 2 &&
		      p.details.u.Dog.has_barks, "the tagged union, by its discriminator");
		CHECK(!p.has_label, "label absent");
		rt_arena_free(&a);
		json_decref(j);
	}
	{
		/* the union by JSON type: each value lands in the branch of its type */
		static const struct {
			const char *text;
			kitchen_Pet_label_tag tag;
		} cases[] = {
			{ "{\"name\":\"L\",\"kind\":\"cat\",\"label\":\"tabby\"}", KITCHEN_PET_LABEL_STRING },
			{ "{\"name\":\"L\",\"kind\":\"cat\",\"label\":12}", KITCHEN_PET_LABEL_INTEGER },
			{ "{\"name\":\"L\",\"kind\":\"cat\",\"label\":[\"x\",\"yz\"]}", KITCHEN_PET_LABEL_ARRAY },
			{ "{\"name\":\"L\",\"kind\":\"cat\",\"label\":{\"type\":\"Cat\"}}", KITCHEN_PET_LABEL_OBJECT },
		};
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			json_t *j = json_loads(cases[i].text, 0, NULL);
			_Alignas(max_align_t) char first[256];
			rt_arena a;
			kitchen_Pet p;
			rt_arena_init(&a, first, sizeof first);
			CHECK(j && kitchen_Pet_from_json(j, &a, &p) == 0 && p.has_label && p.label.tag == cases[i].tag,
			      "label of %s: tag %d", cases[i].text, (int)p.label.tag);
			if (p.label.tag == KITCHEN_PET_LABEL_STRING)
				CHECK(p.label.u.string.len == 5 && memcmp(p.label.u.string.s, "tabby", 5) == 0, "the string");
			if (p.label.tag == KITCHEN_PET_LABEL_INTEGER)
				CHECK(p.label.u.integer == 12, "the integer");
			if (p.label.tag == KITCHEN_PET_LABEL_ARRAY)
				CHECK(p.label.u.array.n_items == 2 && p.label.u.array.items[1].len == 2, "the array");
			if (p.label.tag == KITCHEN_PET_LABEL_OBJECT)
				CHECK(p.label.u.object.type_len == 3 && !p.label.u.object.has_indoor, "the object");
			rt_arena_free(&a);
			json_decref(j);
		}
	}
	{
		/* shapes the model cannot hold are refused, not guessed */
		json_t *j = json_loads("{\"id\":1,\"name\":\"a\",\"kind\":\"fish\"}", 0, NULL);
		rt_arena a;
		kitchen_Pet p;
		rt_arena_init(&a, NULL, 0);
		CHECK(kitchen_Pet_from_json(j, &a, &p) != 0, "an enum value outside the enum");
		json_decref(j);
		j = json_loads("{\"name\":\"a\",\"kind\":\"cat\",\"details\":{\"type\":\"Bird\"}}", 0, NULL);
		CHECK(kitchen_Pet_from_json(j, &a, &p) != 0, "a discriminator value outside the mapping");
		json_decref(j);
		j = json_loads("{\"name\":\"a\",\"kind\":\"cat\",\"label\":true}", 0, NULL);
		CHECK(kitchen_Pet_from_json(j, &a, &p) != 0, "a JSON type none of the union's branches has");
		json_decref(j);
		rt_arena_free(&a);
	}
	{
		/* a writer never sends what jansson would refuse */
		kitchen_Pet p = { .id = 1, .has_id = 1, .name = "\xc3\x28", .name_len = 2, .kind = KITCHEN_PET_KIND_CAT };
		rt_json_writer w;
		rt_json_writer_init(&w);
		kitchen_Pet_write(&w, &p);
		CHECK(w.failed, "invalid UTF-8 fails the writer");
		rt_json_writer_free(&w);
		p.name = "ok";
		p.kind = (kitchen_Pet_kind)0;
		rt_json_writer_init(&w);
		kitchen_Pet_write(&w, &p);
		CHECK(w.failed, "an enum value outside the enum fails the writer");
		rt_json_writer_free(&w);
	}
	printf("typed-roundtrip: %d passed, %d failed\n", pass, fail);
	return fail != 0;
}
