/* store_fault.h — fault injection around a store (tests only; see
 * store_fault.c: built into $(BUILD)/apikeyd-faults, never into apikeyd). */
#ifndef STORE_FAULT_H
#define STORE_FAULT_H

#include "store.h"

/* A store that forwards to inner (owned: closed with it) unless the control
 * file names the call. -1 on out of memory (inner is then not owned). */
int store_fault_wrap(store *inner, const char *control, store **out);

#endif
