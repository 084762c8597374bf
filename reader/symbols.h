/* Internal: the ELF files mapped into a target, their symbols and debug
 * files (symbols.c). */
#ifndef PYHS_SYMBOLS_H
#define PYHS_SYMBOLS_H

#include "target.h"

/* Sets t->executable: the module holding AT_ENTRY, else AT_EXECFN's
 * string. */
struct pyhs_error *pyhs_target_find_executable(struct pyhs_target *t);
/* Opens, maps and checks the file behind a module, finds its debug file;
 * problems become warnings. Adds its file-backed bytes to memory for the
 * mapping ranges given. */
struct pyhs_error *pyhs_module_load(struct pyhs_target *t,
				    struct pyhs_module *m);
/* The symbol name of m, unbiased, or NULL; t gives the options (NULL:
 * none). */
const struct pyhs_symbol *pyhs_module_symbol(struct pyhs_target *t,
					     struct pyhs_module *m,
					     const char *name);
/* The debug file of the module from debuginfod, where none is on disk,
 * the module has no DWARF of its own, debuginfod is not turned off and
 * $DEBUGINFOD_URLS names servers (else nothing is done: no client, no
 * request). Used only if its build-id matches; a failure other than the
 * servers not having it is a warning. Errors: out of memory only. */
struct pyhs_error *pyhs_module_fetch_debug(struct pyhs_target *t,
					   struct pyhs_module *m);
/* Whether an ELF image in a buffer has a section of that name with bytes. */
bool pyhs_elf_has_section(const uint8_t *data, size_t size, const char *want);
/* Build-id of an ELF image in a buffer; 0 if none. */
size_t pyhs_elf_build_id(const uint8_t *data, size_t size, uint8_t *out,
			 size_t out_size);

#endif
