/* Numbers as people read them, for messages and reports. */
#ifndef PYHS_FORMAT_H
#define PYHS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* n bytes: "512 B", "1.5 KiB", ..., "3.0 TiB". Writes buf; returns it. */
const char *pyhs_format_bytes(uint64_t n, char *buf, size_t size);

#endif
