/* Prints the shim's encoding of fixed messages as hex, one per line, for comparison with
 * ts-proto's AgentMessage.encode (the golden vectors in encode.test.ts). */
#include <stdio.h>
#include <string.h>

#include "../../../csrc/event.h"

static void hex(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
  printf("\n");
}

static uint8_t buf[1 << 20];

static void batch(const struct koala_event *evs, int n) {
  uint8_t *body = buf + KOALA_BATCH_PREFIX_MAX, *p = body;
  size_t expect = 0;
  for (int i = 0; i < n; i++) {
    size_t size = koala_event_size(&evs[i]);
    expect += koala_event_field_size(size);
    p = koala_encode_event_field(p, &evs[i], size);
  }
  if ((size_t)(p - body) != expect) printf("size mismatch\n");
  uint8_t prefix[KOALA_BATCH_PREFIX_MAX];
  size_t k = koala_batch_prefix(prefix, (size_t)(p - body));
  memcpy(body - k, prefix, k);
  hex(body - k, k + (size_t)(p - body));
}

int main(void) {
  struct koala_hello h = {1, 1, "orders", 4321, "host-a", 1700000000123456789ull, 3, "0.1.0", 77};
  uint8_t hb[512];
  size_t n = koala_encode_hello_frame(hb, sizeof hb, &h);
  hex(hb, n);

  struct koala_event a;
  memset(&a, 0, sizeof a);
  a.seq = 1;
  a.ts_ns = 1700000000000000001ull;
  a.tid = 100;
  a.vtid = -5;
  a.kind = 1;
  a.conn_id = 2;
  a.fd = 7;
  a.socket_type = 1;
  a.local = (struct koala_addr){.family = 1, .ip_len = 4, .ip = {127, 0, 0, 1}, .port = 8080};
  a.peer = (struct koala_addr){.family = 2, .ip_len = 16, .ip = {[15] = 1}, .port = 65535};
  a.listen_conn_id = 1;
  a.err = -1;

  static uint8_t payload[70000];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 7);
  struct koala_event b;
  memset(&b, 0, sizeof b);
  b.seq = 300;
  b.kind = 3;
  b.conn_id = 1ull << 40;
  b.fd = -1;
  b.original_dst = (struct koala_addr){.family = 3, .path_len = 9, .path = "@abstract"};
  b.payload = payload;
  b.payload_n = sizeof payload;
  b.payload_len = 1ull << 33;
  b.flags = 127127;
  b.dropped_events = 3;
  b.dropped_bytes = 4096;
  b.parent_tid = -1;

  struct koala_event empty;
  memset(&empty, 0, sizeof empty);
  empty.kind = 4;

  struct koala_event evs[3] = {a, b, empty};
  batch(evs, 1);
  batch(evs, 3);
  return 0;
}
