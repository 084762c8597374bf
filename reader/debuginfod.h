/* Internal: debug files from debuginfod servers (debuginfod.c). */
#ifndef PYHS_DEBUGINFOD_H
#define PYHS_DEBUGINFOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Whether $DEBUGINFOD_URLS names any server. */
bool pyhs_debuginfod_configured(void);
/* Asks the servers for the debug file of a build-id: the path (malloc'd)
 * of the file in libdebuginfod's cache. NOT_FOUND when no server is named
 * or none has it; OS for the rest (timeouts, refusals). */
struct pyhs_error *pyhs_debuginfod_find(const uint8_t *build_id, size_t len,
					char **ret_path);

#endif
