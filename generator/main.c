/* main.c — oapigen's command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gen_arena.h"
#include "gen_api.h"
#include "gen_text.h"
/* one version for the project: apikeyd's (the generator links nothing of the server) */
#include "../server/version.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: oapigen [options] SPEC.yaml|SPEC.json\n"
	        "\n"
	        "Reads an OpenAPI 3.0.x, 3.1.x or 3.2.x document, or a Swagger 2.0 one (converted\n"
	        "to OpenAPI 3.0 as it is read), YAML 1.2 or JSON ($refs into\n"
	        "other local files are followed) and writes C for the ulfius HTTP framework:\n"
	        "  DIR/<api>_api.h   typed handler interface: one params struct, handler\n"
	        "                    type and response builders per operation\n"
	        "  DIR/<api>_api.c   schema tables, route table, security and parameter\n"
	        "                    tables, and <api>_register()\n"
	        "  DIR/<api>_spec.c  the document, served at <base>/openapi.json and .yaml\n"
	        "The generated code calls only the runtime library (runtime/ in apikeyd).\n"
	        "\n"
	        "options:\n"
	        "  -o, --output DIR  write the three files into DIR (created if missing)\n"
	        "  -n, --name API    C prefix of every generated name (default: the spec\n"
	        "                    file's name without its extension, as an identifier)\n"
	        "  -c, --check       read and check the document; write nothing\n"
	        "  -V, --version     print oapigen's version and exit\n"
	        "  -h, --help        this text\n"
	        "\n"
	        "Output is deterministic: the same document gives the same bytes.\n"
	        "exit status: 0 success; 1 the document is invalid or uses something\n"
	        "oapigen does not support (the message is \"file: /json/pointer: what\");\n"
	        "2 usage error.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "check", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	gen_api_options opt = { .check = check_document };
	char err[1024] = "";
	char *name = NULL;
	int check = 0, c, rc;

	while ((c = getopt_long(argc, argv, "o:n:chV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			opt.out_dir = optarg;
			break;
		case 'n':
			opt.name = optarg;
			break;
		case 'c':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("oapigen %s\n", APIKEYD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "oapigen: expected exactly one SPEC file, got %d\n", argc - optind);
		usage(stderr);
		return 2;
	}
	if (!check && !opt.out_dir) {
		fprintf(stderr, "oapigen: give -o DIR to write the C files, or --check to only check\n");
		return 2;
	}
	if (check)
		opt.out_dir = NULL;
	opt.spec_path = argv[optind];
	if (!opt.name) {
		const char *base = strrchr(opt.spec_path, '/');
		char *dot;
		base = base ? base + 1 : opt.spec_path;
		name = strdup(base);
		if (name && (dot = strchr(name, '.')) != NULL)
			*dot = '\0';
		char *id = name ? gen_text_ident(name) : NULL;
		free(name);
		name = id;
		opt.name = name;
	} else {
		char *id = gen_text_ident(opt.name);
		if (!id || strcmp(id, opt.name) != 0) {
			fprintf(stderr, "oapigen: --name \"%s\" is not a C identifier\n", opt.name);
			free(id);
			return 2;
		}
		free(id);
	}
	if (!opt.name) {
		fprintf(stderr, "oapigen: out of memory\n");
		return 1;
	}
	if (check)
		gen_arena_begin(); /* --check keeps its values until it ends */
	rc = gen_api_run(&opt, err, sizeof err);
	if (check)
		gen_arena_end();
	if (rc != 0)
		fprintf(stderr, "%s\n", err[0] ? err : "oapigen: failed");
	free(name);
	return rc == 0 ? 0 : 1;
}
