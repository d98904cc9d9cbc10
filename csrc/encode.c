/* Hand-written protobuf encoding of the few messages the shim sends. Sizes are computed first so
 * every length prefix is a minimal varint, which keeps the bytes identical to ts-proto's and Go's
 * (the golden-vector tests compare them). */
#include "event.h"

#include <string.h>

enum { WT_VARINT = 0, WT_LEN = 2 };

static size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

static size_t tag_size(unsigned field) { return varint_size((uint64_t)field << 3); }

static uint8_t *put_tag(uint8_t *p, unsigned field, unsigned wt) {
  return put_varint(p, ((uint64_t)field << 3) | wt);
}

/* int32/int64 negatives are sign-extended to 64 bits, as protobuf requires. */
static size_t field_varint_size(unsigned field, uint64_t v) {
  return v ? tag_size(field) + varint_size(v) : 0;
}

static uint8_t *put_field_varint(uint8_t *p, unsigned field, uint64_t v) {
  if (!v) return p;
  p = put_tag(p, field, WT_VARINT);
  return put_varint(p, v);
}

static size_t field_bytes_size(unsigned field, size_t n) {
  return n ? tag_size(field) + varint_size(n) + n : 0;
}

static uint8_t *put_field_bytes(uint8_t *p, unsigned field, const void *b, size_t n) {
  if (!n) return p;
  p = put_tag(p, field, WT_LEN);
  p = put_varint(p, n);
  memcpy(p, b, n);
  return p + n;
}

static size_t str_len(const char *s) { return s ? strlen(s) : 0; }

static size_t addr_size(const struct koala_addr *a) {
  return field_varint_size(1, a->family) + field_bytes_size(2, a->ip_len) +
         field_varint_size(3, a->port) + field_bytes_size(4, a->path_len);
}

static size_t field_addr_size(unsigned field, const struct koala_addr *a) {
  if (a->family == KOALA_AF_NONE) return 0;
  size_t n = addr_size(a);
  return tag_size(field) + varint_size(n) + n;
}

static uint8_t *put_field_addr(uint8_t *p, unsigned field, const struct koala_addr *a) {
  if (a->family == KOALA_AF_NONE) return p;
  p = put_tag(p, field, WT_LEN);
  p = put_varint(p, addr_size(a));
  p = put_field_varint(p, 1, a->family);
  p = put_field_bytes(p, 2, a->ip, a->ip_len);
  p = put_field_varint(p, 3, a->port);
  return put_field_bytes(p, 4, a->path, a->path_len);
}

static uint64_t i32(int32_t v) { return (uint64_t)(int64_t)v; }

size_t koala_event_size(const struct koala_event *e) {
  return field_varint_size(1, e->seq) + field_varint_size(2, e->ts_ns) +
         field_varint_size(3, (uint64_t)e->tid) + field_varint_size(4, (uint64_t)e->vtid) +
         field_varint_size(5, e->kind) + field_varint_size(6, e->conn_id) +
         field_varint_size(7, i32(e->fd)) + field_varint_size(8, e->socket_type) +
         field_addr_size(9, &e->local) + field_addr_size(10, &e->peer) +
         field_addr_size(11, &e->original_dst) + field_bytes_size(12, e->payload_n) +
         field_varint_size(13, e->payload_len) + field_varint_size(14, (uint64_t)e->flags) +
         field_varint_size(15, e->dropped_events) + field_varint_size(16, e->dropped_bytes) +
         field_varint_size(17, (uint64_t)e->parent_tid) + field_varint_size(18, e->listen_conn_id) +
         field_varint_size(19, i32(e->err));
}

size_t koala_event_field_size(size_t event_size) { return tag_size(1) + varint_size(event_size) + event_size; }

uint8_t *koala_encode_event_field(uint8_t *p, const struct koala_event *e, size_t event_size) {
  p = put_tag(p, 1, WT_LEN);
  p = put_varint(p, event_size);
  p = put_field_varint(p, 1, e->seq);
  p = put_field_varint(p, 2, e->ts_ns);
  p = put_field_varint(p, 3, (uint64_t)e->tid);
  p = put_field_varint(p, 4, (uint64_t)e->vtid);
  p = put_field_varint(p, 5, e->kind);
  p = put_field_varint(p, 6, e->conn_id);
  p = put_field_varint(p, 7, i32(e->fd));
  p = put_field_varint(p, 8, e->socket_type);
  p = put_field_addr(p, 9, &e->local);
  p = put_field_addr(p, 10, &e->peer);
  p = put_field_addr(p, 11, &e->original_dst);
  p = put_field_bytes(p, 12, e->payload, e->payload_n);
  p = put_field_varint(p, 13, e->payload_len);
  p = put_field_varint(p, 14, (uint64_t)e->flags);
  p = put_field_varint(p, 15, e->dropped_events);
  p = put_field_varint(p, 16, e->dropped_bytes);
  p = put_field_varint(p, 17, (uint64_t)e->parent_tid);
  p = put_field_varint(p, 18, e->listen_conn_id);
  return put_field_varint(p, 19, i32(e->err));
}

static uint8_t *put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
  return p + 4;
}

size_t koala_batch_prefix(uint8_t out[KOALA_BATCH_PREFIX_MAX], size_t body_len) {
  /* AgentMessage field 2 (batch) wraps the EventBatch body. */
  size_t msg_len = tag_size(2) + varint_size(body_len) + body_len;
  uint8_t *p = put_be32(out, (uint32_t)msg_len);
  p = put_tag(p, 2, WT_LEN);
  p = put_varint(p, body_len);
  return (size_t)(p - out);
}

static size_t hello_size(const struct koala_hello *h) {
  return field_varint_size(1, h->protocol_version) + field_varint_size(2, h->kind) +
         field_bytes_size(3, str_len(h->sut_name)) + field_varint_size(4, i32(h->pid)) +
         field_bytes_size(5, str_len(h->hostname)) + field_varint_size(6, h->start_ns) +
         field_varint_size(7, h->mode) + field_bytes_size(8, str_len(h->agent_version)) +
         field_varint_size(9, i32(h->parent_pid));
}

size_t koala_encode_hello_frame(uint8_t *buf, size_t cap, const struct koala_hello *h) {
  size_t body = hello_size(h);
  size_t msg = tag_size(1) + varint_size(body) + body;
  if (4 + msg > cap) return 0;
  uint8_t *p = put_be32(buf, (uint32_t)msg);
  p = put_tag(p, 1, WT_LEN);
  p = put_varint(p, body);
  p = put_field_varint(p, 1, h->protocol_version);
  p = put_field_varint(p, 2, h->kind);
  p = put_field_bytes(p, 3, h->sut_name, str_len(h->sut_name));
  p = put_field_varint(p, 4, i32(h->pid));
  p = put_field_bytes(p, 5, h->hostname, str_len(h->hostname));
  p = put_field_varint(p, 6, h->start_ns);
  p = put_field_varint(p, 7, h->mode);
  p = put_field_bytes(p, 8, h->agent_version, str_len(h->agent_version));
  p = put_field_varint(p, 9, i32(h->parent_pid));
  return (size_t)(p - buf);
}
