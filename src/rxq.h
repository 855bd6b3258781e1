/* A queue of received messages, each kept whole with its boundaries. */
#ifndef MSTLS_RXQ_H
#define MSTLS_RXQ_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

struct mstls_iovec;

typedef struct mstls_msg {
  struct mstls_msg *next;
  size_t len;
  size_t off; /* bytes already consumed (stream reads) */
  uint8_t data[];
} mstls_msg;

typedef struct mstls_rxq {
  mstls_msg *head;
  mstls_msg *tail;
  size_t bytes; /* unconsumed bytes */
  size_t count;
  size_t *total; /* optional: a sum over several queues, kept in step */
} mstls_rxq;

/** Copy a message to the tail. @return 0 or MSTLS_E_NOMEM. */
int mstls_rxq_push(mstls_rxq *q, const mstls_mem *mem, const uint8_t *data,
                   size_t len);
/** Copy the pieces of a vector to the tail as one message.
 *  @return 0 or MSTLS_E_NOMEM. */
int mstls_rxq_pushv(mstls_rxq *q, const mstls_mem *mem,
                    const struct mstls_iovec *iov, size_t iovcnt);
/** Read across message boundaries (byte-stream view); frees consumed
 *  messages. @return bytes copied. */
size_t mstls_rxq_read(mstls_rxq *q, const mstls_mem *mem, uint8_t *buf,
                      size_t len);
/** Read one whole message (datagram view), truncating to @p len.
 *  @return bytes copied, or -1 if the queue is empty. */
long mstls_rxq_read_msg(mstls_rxq *q, const mstls_mem *mem, uint8_t *buf,
                        size_t len);
/** Drop the head message (the queue must not be empty). */
void mstls_rxq_pop(mstls_rxq *q, const mstls_mem *mem);
void mstls_rxq_clear(mstls_rxq *q, const mstls_mem *mem);

#endif
