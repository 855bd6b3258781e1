#include <mstls/version.h>

const char *mstls_version(int *pnum) {
  if (pnum) {
    *pnum = MSTLS_VERSION_NUM;
  }
  return MSTLS_VERSION;
}
