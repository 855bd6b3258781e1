/* Hexadecimal digits, for the parsers of pins and fleet secrets. */
#ifndef MSTLS_HEX_H
#define MSTLS_HEX_H

/* The value of one hexadecimal digit (either case), or -1. */
static inline int mstls_hexval(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

#endif
