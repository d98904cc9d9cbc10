/* The proto-shaped values the shim sends (koala.v1 AgentHello / Event), and their hand-written
 * protobuf encoding. Kept free of shim state so a test binary can link encode.c alone and compare
 * its bytes with ts-proto's (golden vectors). */
#ifndef KOALA_EVENT_H
#define KOALA_EVENT_H

#include <stddef.h>
#include <stdint.h>

enum koala_family { KOALA_AF_NONE = 0, KOALA_AF_INET = 1, KOALA_AF_INET6 = 2, KOALA_AF_UNIX = 3 };

enum koala_kind {
  KOALA_EV_ACCEPT = 1,
  KOALA_EV_CONNECT = 2,
  KOALA_EV_SEND = 3,
  KOALA_EV_RECV = 4,
  KOALA_EV_CLOSE = 5,
  KOALA_EV_THREAD_EXIT = 6,
  KOALA_EV_HELPER = 7,
  KOALA_EV_BOUNDARY = 8,
  KOALA_EV_DATAGRAM = 9,
  KOALA_EV_DROP_REPORT = 10,
};

enum koala_socket_type { KOALA_SOCK_NONE = 0, KOALA_SOCK_STREAM = 1, KOALA_SOCK_DGRAM = 2 };

enum koala_mode { KOALA_MODE_RECORD = 1, KOALA_MODE_REPLAY = 2, KOALA_MODE_RECORD_AND_REPLAY = 3 };

/* koala.v1.Address; family KOALA_AF_NONE means "field absent". */
struct koala_addr {
  uint8_t family;
  uint8_t ip_len;
  uint16_t path_len;
  uint32_t port;
  uint8_t ip[16];
  char path[112];
};

/* koala.v1.Event; zero fields are omitted on the wire, as proto3 does. */
struct koala_event {
  uint64_t seq;
  uint64_t ts_ns;
  int64_t tid;
  int64_t vtid;
  uint32_t kind;
  uint64_t conn_id;
  int32_t fd;
  uint32_t socket_type;
  struct koala_addr local;
  struct koala_addr peer;
  struct koala_addr original_dst;
  const uint8_t *payload;
  size_t payload_n;
  uint64_t payload_len;
  int64_t flags;
  uint64_t dropped_events;
  uint64_t dropped_bytes;
  int64_t parent_tid;
  uint64_t listen_conn_id;
  int32_t err;
};

struct koala_hello {
  uint32_t protocol_version;
  uint32_t kind;
  const char *sut_name;
  int32_t pid;
  const char *hostname;
  uint64_t start_ns;
  uint32_t mode;
  const char *agent_version;
  int32_t parent_pid;
};

/* Largest frame prefix koala_batch_prefix writes: 4-byte length, tag, 10-byte varint. */
#define KOALA_BATCH_PREFIX_MAX 15

/* Bytes of ev's Event message. */
size_t koala_event_size(const struct koala_event *ev);
/* Bytes one event of event_size bytes takes inside EventBatch (tag + length + message). */
size_t koala_event_field_size(size_t event_size);
/* Writes the EventBatch field for ev at p; event_size is koala_event_size(ev). Returns the end. */
uint8_t *koala_encode_event_field(uint8_t *p, const struct koala_event *ev, size_t event_size);
/* Writes the frame length and AgentMessage.batch header for a body of body_len bytes into out;
 * returns how many bytes it wrote. The frame is out[0..ret) followed by the body. */
size_t koala_batch_prefix(uint8_t out[KOALA_BATCH_PREFIX_MAX], size_t body_len);
/* Encodes a whole framed AgentMessage{hello}; returns its length, or 0 if cap is too small. */
size_t koala_encode_hello_frame(uint8_t *buf, size_t cap, const struct koala_hello *h);

#endif
