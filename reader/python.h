/* Internal: finding CPython's runtime in a target (python.c). */
#ifndef PYHS_PYTHON_H
#define PYHS_PYTHON_H

#include "target.h"

struct pyhs_error *pyhs_python_find(struct pyhs_target *t);

#endif
