#!/bin/sh
# synth.sh N yaml|json: an OpenAPI 3.0 document with N paths (one operation
# each, its own operationId, a $ref'd parameter and a $ref'd response
# schema) and N component schemas of 8 properties each, one a $ref to the
# next schema: every mapping that grows with the document grows with N.
n=$1 fmt=$2
awk -v n="$n" -v fmt="$fmt" '
function y(s) { print s }
BEGIN {
	if (fmt == "yaml") {
		y("openapi: 3.0.3")
		y("info: {title: synthetic, version: \"1\"}")
		y("paths:")
		for (i = 0; i < n; i++) {
			y("  /r" i "/{id}:")
			y("    get:")
			y("      operationId: get_r" i)
			y("      parameters: [{$ref: \"#/components/parameters/Id\"}]")
			y("      responses:")
			y("        \"200\":")
			y("          description: ok")
			y("          content: {application/json: {schema: {$ref: \"#/components/schemas/S" i "\"}}}")
		}
		y("components:")
		y("  parameters:")
		y("    Id: {name: id, in: path, required: true, schema: {type: string}}")
		y("  schemas:")
		for (i = 0; i < n; i++) {
			y("    S" i ":")
			y("      type: object")
			y("      required: [p0]")
			y("      properties:")
			for (k = 0; k < 7; k++)
				y("        p" k ": {type: " (k % 2 ? "integer" : "string") ", description: property " k " of S" i "}")
			y("        next: {$ref: \"#/components/schemas/S" ((i + 1) % n) "\"}")
		}
	} else {
		printf "{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"synthetic\",\"version\":\"1\"},\"paths\":{"
		for (i = 0; i < n; i++)
			printf "%s\"/r%d/{id}\":{\"get\":{\"operationId\":\"get_r%d\",\"parameters\":[{\"$ref\":\"#/components/parameters/Id\"}],\"responses\":{\"200\":{\"description\":\"ok\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/S%d\"}}}}}}}\n", i ? "," : "", i, i, i
		printf "},\"components\":{\"parameters\":{\"Id\":{\"name\":\"id\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"string\"}}},\"schemas\":{"
		for (i = 0; i < n; i++) {
			printf "%s\"S%d\":{\"type\":\"object\",\"required\":[\"p0\"],\"properties\":{", i ? "," : "", i
			for (k = 0; k < 7; k++)
				printf "\"p%d\":{\"type\":\"%s\",\"description\":\"property %d of S%d\"},", k, k % 2 ? "integer" : "string", k, i
			printf "\"next\":{\"$ref\":\"#/components/schemas/S%d\"}}}\n", (i + 1) % n
		}
		print "}}}"
	}
}'
