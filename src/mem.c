#include "mem.h"

#include <stdlib.h>
#include <string.h>

static void *mem_malloc(size_t size, void *ud) {
  (void)ud;
  return malloc(size);
}

static void mem_free(void *ptr, void *ud) {
  (void)ud;
  free(ptr);
}

static void *mem_calloc(size_t nmemb, size_t size, void *ud) {
  (void)ud;
  return calloc(nmemb, size);
}

static void *mem_realloc(void *ptr, size_t size, void *ud) {
  (void)ud;
  return realloc(ptr, size);
}

static const mstls_mem mem_libc = {NULL, mem_malloc, mem_free, mem_calloc,
                                   mem_realloc};

const mstls_mem *mstls_mem_default(void) {
  return &mem_libc;
}

void *mstls_mem_malloc(const mstls_mem *mem, size_t size) {
  return mem->malloc(size, mem->user_data);
}

void *mstls_mem_calloc(const mstls_mem *mem, size_t nmemb, size_t size) {
  return mem->calloc(nmemb, size, mem->user_data);
}

void *mstls_mem_realloc(const mstls_mem *mem, void *ptr, size_t size) {
  return mem->realloc(ptr, size, mem->user_data);
}

void mstls_mem_free(const mstls_mem *mem, void *ptr) {
  if (ptr) {
    mem->free(ptr, mem->user_data);
  }
}

char *mstls_mem_strdup(const mstls_mem *mem, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = mstls_mem_malloc(mem, n);
  if (p) {
    memcpy(p, s, n);
  }
  return p;
}
