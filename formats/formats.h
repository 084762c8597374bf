/*
 * pyheapsnap formats: exports of a heap (JSON lines) and the JSON writing
 * helpers the command line uses.
 */
#ifndef PYHS_FORMATS_H
#define PYHS_FORMATS_H

#include <stdio.h>

#include "heapmodel.h"

#define PYHS_JSONL_FORMAT "pyheapsnap-jsonl"
#define PYHS_JSONL_VERSION 1

/* Writes the heap as JSON lines: a header object, then one object per line.
 * PYHS_ERROR_OS if writing fails. */
struct pyhs_error *pyhs_export_jsonl(const struct pyhs_heap *h, FILE *out);

/* Writes s as a JSON string literal (quoted, escaped; invalid UTF-8 bytes
 * become U+FFFD). */
void pyhs_json_string(FILE *out, const char *s);

/* The name of a generation as JSON: 0, 1, 2, "permanent" or null. */
void pyhs_json_gen(FILE *out, enum pyhs_gen gen);

#endif
