#include "rxq.h"

#include <string.h>

#include <mstls/mstls.h>

static void rxq_link(mstls_rxq *q, mstls_msg *m, size_t len) {
  m->next = NULL;
  m->len = len;
  m->off = 0;
  if (q->tail) {
    q->tail->next = m;
  } else {
    q->head = m;
  }
  q->tail = m;
  q->bytes += len;
  q->count++;
  if (q->total) {
    *q->total += len;
  }
}

int mstls_rxq_push(mstls_rxq *q, const mstls_mem *mem, const uint8_t *data,
                   size_t len) {
  mstls_msg *m = mstls_mem_malloc(mem, sizeof(*m) + len);
  if (!m) {
    return MSTLS_E_NOMEM;
  }
  if (len) {
    memcpy(m->data, data, len);
  }
  rxq_link(q, m, len);
  return 0;
}

int mstls_rxq_pushv(mstls_rxq *q, const mstls_mem *mem,
                    const struct mstls_iovec *iov, size_t iovcnt) {
  mstls_msg *m;
  size_t i, len = 0;
  for (i = 0; i < iovcnt; i++) {
    len += iov[i].len;
  }
  m = mstls_mem_malloc(mem, sizeof(*m) + len);
  if (!m) {
    return MSTLS_E_NOMEM;
  }
  len = 0;
  for (i = 0; i < iovcnt; i++) {
    if (iov[i].len) {
      memcpy(m->data + len, iov[i].base, iov[i].len);
      len += iov[i].len;
    }
  }
  rxq_link(q, m, len);
  return 0;
}

static void rxq_consume(mstls_rxq *q, size_t n) {
  q->bytes -= n;
  if (q->total) {
    *q->total -= n;
  }
}

void mstls_rxq_pop(mstls_rxq *q, const mstls_mem *mem) {
  mstls_msg *m = q->head;
  q->head = m->next;
  if (!q->head) {
    q->tail = NULL;
  }
  rxq_consume(q, m->len - m->off);
  q->count--;
  mstls_mem_free(mem, m);
}

size_t mstls_rxq_read(mstls_rxq *q, const mstls_mem *mem, uint8_t *buf,
                      size_t len) {
  size_t done = 0;
  while (q->head && done < len) {
    mstls_msg *m = q->head;
    size_t avail = m->len - m->off;
    size_t n = avail < len - done ? avail : len - done;
    memcpy(buf + done, m->data + m->off, n);
    m->off += n;
    done += n;
    rxq_consume(q, n);
    if (m->off == m->len) {
      mstls_rxq_pop(q, mem); /* subtracts the unconsumed part: nothing */
    }
  }
  return done;
}

long mstls_rxq_read_msg(mstls_rxq *q, const mstls_mem *mem, uint8_t *buf,
                        size_t len) {
  mstls_msg *m = q->head;
  size_t n;
  if (!m) {
    return -1;
  }
  n = m->len - m->off;
  if (n > len) {
    n = len;
  }
  memcpy(buf, m->data + m->off, n);
  mstls_rxq_pop(q, mem);
  return (long)n;
}

void mstls_rxq_clear(mstls_rxq *q, const mstls_mem *mem) {
  while (q->head) {
    mstls_rxq_pop(q, mem);
  }
}
