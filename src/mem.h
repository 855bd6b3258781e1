/* Allocator indirection: every allocation of the library goes through here
 * so that per-object mstls_mem hooks (and the failmalloc tests) see it. */
#ifndef MSTLS_MEM_H
#define MSTLS_MEM_H

#include <mstls/mstls.h>

/** The libc allocator as an mstls_mem. */
const mstls_mem *mstls_mem_default(void);

void *mstls_mem_malloc(const mstls_mem *mem, size_t size);
void *mstls_mem_calloc(const mstls_mem *mem, size_t nmemb, size_t size);
void *mstls_mem_realloc(const mstls_mem *mem, void *ptr, size_t size);
void mstls_mem_free(const mstls_mem *mem, void *ptr);
char *mstls_mem_strdup(const mstls_mem *mem, const char *s);

#endif
