/*
 * The C load generator of bench/echo.ts: one thread, epoll, raw sockets.
 *
 * Written in C so that the generator spends as little CPU per message as a
 * client can: a Node generator saturated its own core on the small-message
 * and handshake rows and so measured itself. It is not below every server:
 * on loopback its write(2) and connect(2) run the server's side of TCP too,
 * and the fastest servers make as few syscalls per message as it does
 * (bench/README.md, "Where the generator sets the pace"). It speaks
 * just enough RFC 6455 to upgrade (offering no extension), send masked frames
 * built once, count echoed messages without copying payloads, answer pings
 * and close frames, and time each message's round trip.
 *
 *   loadgen throughput PORT SIZE CONNS INFLIGHT WARMUP_MS DURATION_MS [text] [deflate] [tls]
 *   loadgen handshakes PORT CONCURRENCY DURATION_MS [tls]
 *   loadgen subscribe PORT SUBSCRIBERS ROUNDS BURST [SERVER_PID] [deflate-shared|deflate-own]
 *
 * `text` sends text messages (binary otherwise). `deflate` offers
 * permessage-deflate with client_no_context_takeover, so one compressed
 * frame, built once, is valid every time (RFC 7692 §7.1.1.1); the server
 * compresses its echoes as it negotiated. `tls` speaks TLS (OpenSSL, no
 * certificate check: the servers are ours, on loopback).
 *
 * `subscribe` holds the subscribers of bench/topics.ts: SUBSCRIBERS
 * connections to `/`, then one to `/control` that asks `count` until the
 * server has them all subscribed, then, for 10 warm-up rounds and ROUNDS
 * measured ones, sends `pub 1` and times until every subscriber has one more
 * message; then, after a warm-up one, 5 times `pub BURST` and the time until
 * every subscriber has them all (the median).
 * With SERVER_PID, it also reads the server's CPU time around both. The
 * subscribers offer permessage-deflate with `deflate-shared` (asking for
 * server_no_context_takeover, so the server can compress once for all) or
 * `deflate-own` (context takeover: the server compresses per subscriber);
 * messages are counted, not decompressed.
 *
 * Prints one JSON object on stdout. Connects only to 127.0.0.1. Every loop
 * is bounded by a deadline; failures are counted, and too many end the job.
 *
 * Built by bench/echo-loadgen.ts with `cc -O2 ... -lssl -lcrypto -lz` into a
 * cache outside the checkout; nothing built is committed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_CONNS 4096
#define MAX_SUBSCRIBERS 16384
#define HEAD_MAX 16384
#define CLOSE_WAIT_NS (5LL * 1000000000LL)
#define OPEN_WAIT_NS (10LL * 1000000000LL)
#define MAX_FAILURES 1000
#define MAX_SAMPLES (1 << 21)

enum phase { CONNECTING, TLS_HANDSHAKE, UPGRADING, OPEN, CLOSING, DONE };

struct conn {
  int fd;
  SSL *ssl;
  enum phase phase;
  /* Handshake response head, until its blank line. */
  char head[HEAD_MAX];
  size_t head_len;
  /* Frame parser: header bytes gathered so far, then payload left to skip. */
  uint8_t hdr[14];
  size_t hdr_len;
  uint64_t skip;
  int opcode;
  int fin;
  uint8_t ctrl[125];
  size_t ctrl_len;
  /* Bytes not yet accepted by the kernel. */
  uint8_t *out;
  size_t out_len, out_cap, out_off;
  /* Send times of messages in flight, oldest first (a ring of `inflight`). */
  int64_t *sent_at;
  int ring_head, ring_count;
  int close_sent;
  int want_out;
  int64_t started;
  /* subscribe: the control connection (its data payloads are kept in ctrl), and messages received. */
  int control;
  uint64_t messages;
};

static int epfd;
static int port;
static struct conn *conns;
static int nconns;
static uint8_t *frame;
static size_t frame_len;
static int inflight = 1;
static int sending = 1;
static uint64_t received;
static int measuring;
static uint32_t *samples;
static uint64_t nsamples;
static uint64_t failures;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static int use_deflate;
/* The Sec-WebSocket-Extensions line offered, if any (`deflate`, `deflate-shared`, `deflate-own`). */
static const char *offer = "";
static SSL_CTX *tls_ctx;
/* subscribe: every subscriber is waited for until it has `sub_target` messages. */
static uint64_t sub_target;
static int sub_remaining;
static int control_replied;
/* When the last read returned: the receive time of every message in it, the send time of every
   message it answers (one clock read per read(2), not two per message). */
static int64_t batch_now;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * This thread's time on a CPU plus its time runnable but waiting for one, in nanoseconds
 * (/proc/self/schedstat). Over a window, their sum divided by the wall time is how much of it
 * the generator was not idle in epoll_wait: near 1, it may set the pace, whether by its own
 * work or because another process shares its CPU (which its CPU time alone doesn't show).
 */
static int64_t busy_ns(void) {
  FILE *f = fopen("/proc/self/schedstat", "r");
  if (f == NULL) return 0;
  long long run = 0, wait = 0;
  if (fscanf(f, "%lld %lld", &run, &wait) != 2) run = wait = 0;
  fclose(f);
  return run + wait;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static uint64_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(2);
}

/* RFC 6455 §5.2/§5.3: one final, masked frame (`rsv1` marks a compressed message, RFC 7692 §6). */
static size_t build_frame_rsv(uint8_t *dst, int opcode, int rsv1, const uint8_t *payload,
                              size_t len) {
  size_t i = 0;
  uint8_t key[4];
  uint64_t r = next_random();
  memcpy(key, &r, 4);
  dst[i++] = 0x80 | (rsv1 ? 0x40 : 0) | (uint8_t)opcode;
  if (len < 126) {
    dst[i++] = 0x80 | (uint8_t)len;
  } else if (len < 65536) {
    dst[i++] = 0x80 | 126;
    dst[i++] = (uint8_t)(len >> 8);
    dst[i++] = (uint8_t)len;
  } else {
    dst[i++] = 0x80 | 127;
    for (int s = 56; s >= 0; s -= 8) dst[i++] = (uint8_t)((uint64_t)len >> s);
  }
  memcpy(dst + i, key, 4);
  i += 4;
  for (size_t j = 0; j < len; j++) dst[i + j] = payload[j] ^ key[j & 3];
  return i + len;
}

static size_t build_frame(uint8_t *dst, int opcode, const uint8_t *payload, size_t len) {
  return build_frame_rsv(dst, opcode, 0, payload, len);
}

/* RFC 7692 §7.2.1: raw DEFLATE, flushed, without the final 00 00 ff ff. */
static size_t deflate_message(const uint8_t *in, size_t len, uint8_t *out, size_t cap) {
  z_stream z = {0};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    fprintf(stderr, "loadgen: deflateInit2 failed\n");
    exit(2);
  }
  z.next_in = (uint8_t *)in;
  z.avail_in = (uInt)len;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_SYNC_FLUSH) != Z_OK || z.avail_in != 0) {
    fprintf(stderr, "loadgen: deflate failed\n");
    exit(2);
  }
  size_t n = cap - z.avail_out;
  deflateEnd(&z);
  return n >= 4 ? n - 4 : n;
}

/* Reads like a chat message stream, so compression has something realistic to do. */
static void chat_payload(uint8_t *dst, size_t size) {
  size_t i = 0;
  while (i < size) {
    char msg[96];
    int n = snprintf(msg, sizeof msg, "{\"user\":\"u%04u\",\"text\":\"hello %u\",\"ts\":%u}",
                     (unsigned)(next_random() % 10000), (unsigned)(next_random() % 100000),
                     1700000000u + (unsigned)(next_random() % 100000));
    for (int j = 0; j < n && i < size; j++) dst[i++] = (uint8_t)msg[j];
  }
}

/* read(2) or SSL_read, with EAGAIN for "not now" either way. */
static ssize_t io_read(struct conn *c, uint8_t *buf, size_t n) {
  if (c->ssl == NULL) return read(c->fd, buf, n);
  int r = SSL_read(c->ssl, buf, (int)n);
  if (r > 0) return r;
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  errno = EIO;
  return -1;
}

static ssize_t io_write(struct conn *c, const uint8_t *buf, size_t n) {
  if (c->ssl == NULL) return write(c->fd, buf, n);
  int r = SSL_write(c->ssl, buf, (int)n);
  if (r > 0) return r;
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  errno = EIO;
  return -1;
}

static void queue_out(struct conn *c, const uint8_t *data, size_t len) {
  if (c->out_len - c->out_off + len > c->out_cap || c->out_len + len > c->out_cap) {
    size_t live = c->out_len - c->out_off;
    if (c->out_off > 0) {
      memmove(c->out, c->out + c->out_off, live);
      c->out_len = live;
      c->out_off = 0;
    }
    if (live + len > c->out_cap) {
      size_t cap = c->out_cap ? c->out_cap : 4096;
      while (cap < live + len) cap *= 2;
      c->out = realloc(c->out, cap);
      if (c->out == NULL) die("realloc");
      c->out_cap = cap;
    }
  }
  memcpy(c->out + c->out_len, data, len);
  c->out_len += len;
}

static void close_conn(struct conn *c) {
  if (c->ssl != NULL) {
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
  /* Closing the only descriptor of the socket takes it out of the epoll set: no EPOLL_CTL_DEL. */
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->phase = DONE;
  c->out_len = c->out_off = 0;
}

/* Changes the events watched only when they change: a syscall per event would cost the generator. */
static void watch(struct conn *c, int want_out) {
  if (c->want_out == want_out) return;
  c->want_out = want_out;
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what it can; waits for EPOLLOUT for the rest. Returns -1 if the connection died. */
static int flush_out(struct conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = io_write(c, c->out + c->out_off, c->out_len - c->out_off);
    if (n > 0) {
      c->out_off += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      watch(c, 1);
      return 0;
    }
    if (n < 0 && errno == EINTR) continue;
    return -1;
  }
  c->out_off = c->out_len = 0;
  return 0;
}

static void send_messages(struct conn *c, int count) {
  int64_t t = batch_now;
  for (int i = 0; i < count; i++) {
    queue_out(c, frame, frame_len);
    if (c->sent_at != NULL && c->ring_count < inflight) {
      c->sent_at[(c->ring_head + c->ring_count) % inflight] = t;
      c->ring_count++;
    }
  }
}

static void send_close(struct conn *c, const uint8_t *code2) {
  uint8_t buf[16];
  uint8_t payload[2] = {0x03, 0xe8}; /* 1000 */
  if (c->close_sent) return;
  c->close_sent = 1;
  queue_out(c, buf, build_frame(buf, 0x8, code2 ? code2 : payload, 2));
}

static int open_conn(struct conn *c) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* A slot is reused for the next connection; its buffers are kept. */
  uint8_t *out = c->out;
  size_t out_cap = c->out_cap;
  int64_t *sent_at = c->sent_at;
  memset(c, 0, sizeof *c);
  c->out = out;
  c->out_cap = out_cap;
  c->sent_at = sent_at;
  c->want_out = 1;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->phase = CONNECTING;
  c->started = now_ns();
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
  return 0;
}

static void upgrade_request(struct conn *c) {
  char req[512];
  char key[25];
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 22; i++) key[i] = b64[next_random() & 63];
  key[22] = key[23] = '=';
  key[24] = 0;
  key[21] = 'A'; /* 16 bytes encode to 22 characters whose last carries 4 zero bits */
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n%s\r\n",
                   c->control ? "/control" : "/", port, key, c->control ? "" : offer);
  queue_out(c, (const uint8_t *)req, (size_t)n);
  c->phase = UPGRADING;
}

/* A complete data message arrived: count it, time it, send the next one. */
static void on_message(struct conn *c) {
  received++;
  if (c->control) {
    control_replied = 1;
    return;
  }
  if (++c->messages == sub_target) sub_remaining--;
  if (c->ring_count > 0) {
    int64_t rtt = batch_now - c->sent_at[c->ring_head];
    c->ring_head = (c->ring_head + 1) % inflight;
    c->ring_count--;
    if (measuring && samples != NULL) {
      uint32_t us = rtt / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(rtt / 1000);
      /* Reservoir sampling keeps the percentiles unbiased past the cap. */
      if (nsamples < MAX_SAMPLES) samples[nsamples] = us;
      else {
        uint64_t j = next_random() % (nsamples + 1);
        if (j < MAX_SAMPLES) samples[j] = us;
      }
      nsamples++;
    }
  }
  if (sending && c->phase == OPEN) send_messages(c, 1);
}

static void on_control(struct conn *c) {
  uint8_t buf[140];
  if (c->opcode == 0x9) {
    queue_out(c, buf, build_frame(buf, 0xa, c->ctrl, c->ctrl_len));
  } else if (c->opcode == 0x8) {
    /* RFC 6455 §5.5.1: echo the close code, then wait for the server to close TCP. */
    send_close(c, c->ctrl_len >= 2 ? c->ctrl : NULL);
    c->phase = CLOSING;
    shutdown(c->fd, SHUT_WR);
  }
}

/* Feeds received frame bytes; payloads are skipped, never copied (control ones excepted). */
static void parse_frames(struct conn *c, const uint8_t *p, size_t n) {
  while (n > 0) {
    if (c->skip == 0 && c->hdr_len < 2) {
      c->hdr[c->hdr_len++] = *p++;
      n--;
      if (c->hdr_len < 2) continue;
    }
    if (c->hdr_len >= 2 && c->skip == 0) {
      int len7 = c->hdr[1] & 0x7f;
      size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((c->hdr[1] & 0x80) ? 4 : 0);
      while (c->hdr_len < need && n > 0) {
        c->hdr[c->hdr_len++] = *p++;
        n--;
      }
      if (c->hdr_len < need) return;
      uint64_t len = (uint64_t)len7;
      if (len7 == 126) len = ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
      else if (len7 == 127) {
        len = 0;
        for (int i = 2; i < 10; i++) len = (len << 8) | c->hdr[i];
      }
      c->fin = c->hdr[0] >> 7;
      c->opcode = c->hdr[0] & 0x0f;
      c->hdr_len = 0;
      c->ctrl_len = 0;
      if (len == 0) {
        if (c->opcode >= 0x8) on_control(c);
        else if (c->fin) on_message(c);
        continue;
      }
      c->skip = len;
    }
    size_t take = c->skip < n ? (size_t)c->skip : n;
    if ((c->opcode >= 0x8 || c->control) && c->ctrl_len + take <= sizeof c->ctrl) {
      memcpy(c->ctrl + c->ctrl_len, p, take);
      c->ctrl_len += take;
    }
    p += take;
    n -= take;
    c->skip -= take;
    if (c->skip == 0) {
      if (c->opcode >= 0x8) on_control(c);
      else if (c->fin) on_message(c);
    }
  }
}

/* Reads the 101's head; the bytes after its blank line are frames already. */
static int on_head(struct conn *c, const uint8_t *p, size_t n) {
  size_t room = HEAD_MAX - c->head_len;
  size_t take = n < room ? n : room;
  memcpy(c->head + c->head_len, p, take);
  size_t scan_from = c->head_len >= 3 ? c->head_len - 3 : 0;
  c->head_len += take;
  for (size_t i = scan_from; i + 3 < c->head_len; i++) {
    if (memcmp(c->head + i, "\r\n\r\n", 4) == 0) {
      if (c->head_len < 12 || memcmp(c->head, "HTTP/1.1 101", 12) != 0) return -1;
      if (*offer != 0 && !c->control && memmem(c->head, i, "permessage-deflate", 18) == NULL) {
        fprintf(stderr, "loadgen: the server did not accept permessage-deflate\n");
        return -1;
      }
      c->phase = OPEN;
      size_t used_here = i + 4 - (c->head_len - take);
      parse_frames(c, p + used_here, n - used_here);
      return 1;
    }
  }
  return c->head_len == HEAD_MAX ? -1 : 0;
}

/* Handles one readiness event. Returns 1 when the connection finished (closed by the peer). */
static int service(struct conn *c, uint32_t events, void (*opened)(struct conn *)) {
  static uint8_t buf[1 << 18];
  if (c->phase == CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    /* A refused or reset connect reports EPOLLERR: only then is SO_ERROR worth a syscall. */
    if (events & (EPOLLERR | EPOLLHUP)) return -1;
    if (tls_ctx != NULL) {
      c->ssl = SSL_new(tls_ctx);
      SSL_set_fd(c->ssl, c->fd);
      SSL_set_connect_state(c->ssl);
      c->phase = TLS_HANDSHAKE;
    } else {
      upgrade_request(c);
    }
  }
  if (c->phase == TLS_HANDSHAKE) {
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) {
      int e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ) watch(c, 0);
      else if (e == SSL_ERROR_WANT_WRITE) watch(c, 1);
      else return -1;
      return 0;
    }
    upgrade_request(c);
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    for (int reads = 0; reads < 64; reads++) {
      ssize_t n = io_read(c, buf, sizeof buf);
      if (n > 0) {
        batch_now = now_ns();
        if (c->phase == UPGRADING) {
          int r = on_head(c, buf, (size_t)n);
          if (r < 0) return -1;
          if (r == 1 && opened != NULL) opened(c);
        } else {
          parse_frames(c, buf, (size_t)n);
        }
        /* TLS may hold decrypted records that epoll can't see: read until EAGAIN. */
        if (c->ssl == NULL && (size_t)n < sizeof buf) break;
        continue;
      }
      if (n == 0) return c->phase == CLOSING ? 1 : -1;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return c->phase == CLOSING ? 1 : -1;
    }
  }
  if (flush_out(c) < 0) return c->phase == CLOSING ? 1 : -1;
  if (c->out_off == c->out_len && c->phase != CONNECTING) watch(c, 0);
  return 0;
}

/* One round of events while connections open, counting those that did; -1 on a failure or late. */
static int opening_step(int *open_count, int64_t deadline, void (*opened)(struct conn *)) {
  if (now_ns() > deadline) {
    fprintf(stderr, "loadgen: only %d of %d connections opened in time\n", *open_count, nconns);
    return -1;
  }
  struct epoll_event events[256];
  int k = epoll_wait(epfd, events, 256, 100);
  for (int i = 0; i < k; i++) {
    struct conn *c = events[i].data.ptr;
    enum phase before = c->phase;
    if (service(c, events[i].events, opened) < 0) {
      fprintf(stderr, "loadgen: a connection failed while opening\n");
      return -1;
    }
    if (before != OPEN && c->phase == OPEN) (*open_count)++;
  }
  return 0;
}

static void opened_throughput(struct conn *c) {
  (void)c;
}

static int cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void print_percentiles(void) {
  uint64_t n = nsamples < MAX_SAMPLES ? nsamples : MAX_SAMPLES;
  if (n == 0) {
    printf(",\"p50_us\":null,\"p99_us\":null");
    return;
  }
  qsort(samples, n, sizeof *samples, cmp);
  printf(",\"p50_us\":%u,\"p99_us\":%u", samples[n / 2], samples[(n * 99) / 100]);
}

static int run_throughput(int size, int count, int warmup_ms, int duration_ms, int text) {
  nconns = count;
  conns = calloc((size_t)nconns, sizeof *conns);
  size_t cap = (size_t)size + (size_t)size / 8 + 64;
  uint8_t *payload = malloc(cap);
  frame = malloc(cap + 14);
  samples = malloc(sizeof *samples * MAX_SAMPLES);
  if (conns == NULL || payload == NULL || frame == NULL || samples == NULL) die("malloc");
  if (use_deflate) {
    uint8_t *plain = malloc((size_t)size);
    if (plain == NULL) die("malloc");
    chat_payload(plain, (size_t)size);
    size_t n = deflate_message(plain, (size_t)size, payload, cap);
    frame_len = build_frame_rsv(frame, text ? 0x1 : 0x2, 1, payload, n);
    free(plain);
  } else {
    memset(payload, 'a', (size_t)size);
    frame_len = build_frame(frame, text ? 0x1 : 0x2, payload, (size_t)size);
  }
  for (int i = 0; i < nconns; i++) {
    conns[i].sent_at = calloc((size_t)inflight, sizeof(int64_t));
    if (conns[i].sent_at == NULL || open_conn(&conns[i]) < 0) die("connect");
  }
  struct epoll_event events[256];
  /* Open every connection before any message, so all rows start alike. */
  int64_t deadline = now_ns() + OPEN_WAIT_NS;
  int open_count = 0;
  while (open_count < nconns) {
    if (opening_step(&open_count, deadline, opened_throughput) < 0) return 1;
  }
  batch_now = now_ns();
  for (int i = 0; i < nconns; i++) {
    send_messages(&conns[i], inflight);
    if (flush_out(&conns[i]) < 0) die("write");
  }
  int64_t t_start = now_ns();
  int64_t t_measure = t_start + (int64_t)warmup_ms * 1000000;
  int64_t t_end = t_measure + (int64_t)duration_ms * 1000000;
  uint64_t count0 = 0;
  double cpu0 = 0;
  int64_t busy0 = 0;
  for (;;) {
    int64_t t = now_ns();
    if (!measuring && t >= t_measure) {
      measuring = 1;
      count0 = received;
      cpu0 = cpu_seconds();
      busy0 = busy_ns();
      t_measure = t;
    }
    if (t >= t_end) break;
    int64_t wait_ms = ((measuring ? t_end : t_measure) - t) / 1000000 + 1;
    int k = epoll_wait(epfd, events, 256, (int)(wait_ms < 100 ? wait_ms : 100));
    for (int i = 0; i < k; i++) {
      struct conn *c = events[i].data.ptr;
      if (c->phase == DONE) continue;
      if (service(c, events[i].events, NULL) != 0) {
        fprintf(stderr, "loadgen: the server closed a connection during the run\n");
        return 1;
      }
    }
  }
  int64_t t_stop = now_ns();
  uint64_t messages = received - count0;
  double cpu = cpu_seconds() - cpu0;
  double busy = (double)(busy_ns() - busy0) / 1e9;
  double seconds = (double)(t_stop - t_measure) / 1e9;
  measuring = 0;
  sending = 0;
  /* Close every connection cleanly, bounded; echoes still in flight are drained. */
  for (int i = 0; i < nconns; i++) {
    send_close(&conns[i], NULL);
    conns[i].phase = CLOSING;
    if (flush_out(&conns[i]) < 0) close_conn(&conns[i]);
  }
  int remaining = 0;
  for (int i = 0; i < nconns; i++) remaining += conns[i].phase != DONE;
  deadline = now_ns() + CLOSE_WAIT_NS;
  while (remaining > 0 && now_ns() < deadline) {
    int k = epoll_wait(epfd, events, 256, 100);
    for (int i = 0; i < k; i++) {
      struct conn *c = events[i].data.ptr;
      if (c->phase == DONE) continue;
      if (service(c, events[i].events, NULL) != 0) {
        close_conn(c);
        remaining--;
      }
    }
  }
  for (int i = 0; i < nconns; i++) close_conn(&conns[i]);
  printf("{\"type\":\"throughput\",\"messages\":%llu,\"total\":%llu,\"seconds\":%.6f,\"cpu\":%.4f,"
         "\"busy\":%.4f",
         (unsigned long long)messages, (unsigned long long)received, seconds,
         seconds > 0 ? cpu / seconds : 0, seconds > 0 ? busy / seconds : 0);
  print_percentiles();
  printf("}\n");
  return 0;
}

/* As soon as the 101 arrives, start the closing handshake: one handshake + close per slot. */
static void opened_handshake(struct conn *c) {
  send_close(c, NULL);
  c->phase = CLOSING;
}

static int run_handshakes(int concurrency, int duration_ms) {
  nconns = concurrency;
  conns = calloc((size_t)nconns, sizeof *conns);
  if (conns == NULL) die("calloc");
  uint64_t done = 0;
  double cpu0 = cpu_seconds();
  int64_t busy0 = busy_ns();
  int64_t t0 = now_ns();
  int64_t t_end = t0 + (int64_t)duration_ms * 1000000;
  for (int i = 0; i < nconns; i++)
    if (open_conn(&conns[i]) < 0) failures++;
  struct epoll_event events[256];
  while (now_ns() < t_end && failures < MAX_FAILURES) {
    int k = epoll_wait(epfd, events, 256, 50);
    for (int i = 0; i < k; i++) {
      struct conn *c = events[i].data.ptr;
      if (c->phase == DONE) continue;
      int r = service(c, events[i].events, opened_handshake);
      if (r == 0 && now_ns() - c->started < OPEN_WAIT_NS) continue;
      if (r == 1) done++;
      else failures++;
      close_conn(c);
      if (now_ns() < t_end && open_conn(c) < 0) failures++;
    }
  }
  double seconds = (double)(now_ns() - t0) / 1e9;
  double cpu = cpu_seconds() - cpu0;
  double busy = (double)(busy_ns() - busy0) / 1e9;
  for (int i = 0; i < nconns; i++) close_conn(&conns[i]);
  printf("{\"type\":\"handshakes\",\"handshakes\":%llu,\"failures\":%llu,\"seconds\":%.6f,"
         "\"cpu\":%.4f,\"busy\":%.4f}\n",
         (unsigned long long)done, (unsigned long long)failures, seconds, cpu / seconds,
         busy / seconds);
  return 0;
}

/* --- subscribe: the subscribers of bench/topics.ts ------------------------------------------ */

#define SUB_OPENING_MAX 128
#define SUB_OPEN_WAIT_NS (60LL * 1000000000LL)
#define SUB_ROUND_WAIT_NS (30LL * 1000000000LL)
#define SUB_WARMUP 10
#define SUB_BURSTS 5

static int cmp_ns(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Services events until `done()` holds or the deadline passes; -1 if a connection failed. */
static int sub_wait(int (*done)(void), int64_t deadline) {
  struct epoll_event events[256];
  while (!done()) {
    if (now_ns() > deadline) return -1;
    int k = epoll_wait(epfd, events, 256, 100);
    for (int i = 0; i < k; i++) {
      struct conn *c = events[i].data.ptr;
      if (c->phase == DONE) continue;
      if (service(c, events[i].events, NULL) != 0) return -1;
    }
  }
  return 0;
}

static int all_delivered(void) {
  return sub_remaining == 0;
}

static int control_answered(void) {
  return control_replied;
}

/* Sends a text command on the control connection, as a masked frame. */
static void control_send(struct conn *c, const char *command) {
  uint8_t buf[64];
  control_replied = 0;
  queue_out(c, buf, build_frame(buf, 0x1, (const uint8_t *)command, strlen(command)));
  if (flush_out(c) < 0) die("write");
}

/*
 * Sends `command` (publishing `messages`) and waits until every subscriber has `sub_target`
 * messages; returns the nanoseconds it took. A slow server (ws's loop, 10,000 subscribers, a busy
 * machine) gets 200 µs per message delivered on top of the 30 s.
 */
static int64_t sub_round(struct conn *control, const char *command, int messages) {
  sub_remaining = nconns - 1;
  int64_t t0 = now_ns();
  control_send(control, command);
  int64_t allowance = (int64_t)messages * sub_remaining * 200000LL;
  if (sub_wait(all_delivered, t0 + SUB_ROUND_WAIT_NS + allowance) < 0) {
    fprintf(stderr, "loadgen: %d subscribers short of %llu messages\n", sub_remaining,
            (unsigned long long)sub_target);
    exit(1);
  }
  return now_ns() - t0;
}

/*
 * CPU time of process `pid` (every thread) in nanoseconds, from /proc/PID/task/TID/schedstat;
 * 0 without a pid. The server's CPU per message delivered doesn't depend on how busy the
 * machine is, unlike its latency.
 */
static int64_t process_cpu_ns(int pid) {
  if (pid <= 0) return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR *dir = opendir(path);
  if (dir == NULL) return 0;
  int64_t total = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    if (entry->d_name[0] == '.') continue;
    char file[300];
    snprintf(file, sizeof file, "/proc/%d/task/%s/schedstat", pid, entry->d_name);
    FILE *f = fopen(file, "r");
    if (f == NULL) continue;
    long long ns = 0;
    if (fscanf(f, "%lld", &ns) == 1) total += ns;
    fclose(f);
  }
  closedir(dir);
  return total;
}

static int run_subscribe(int subscribers, int rounds, int burst, int server_pid) {
  nconns = subscribers + 1;
  conns = calloc((size_t)nconns, sizeof *conns);
  samples = malloc(sizeof *samples * (size_t)(rounds > 0 ? rounds : 1));
  if (conns == NULL || samples == NULL) die("malloc");
  /* A few connections at a time: a burst of 10,000 SYNs overflows the server's accept backlog. */
  int64_t deadline = now_ns() + SUB_OPEN_WAIT_NS;
  int next = 0, opened = 0;
  struct epoll_event events[256];
  while (opened < nconns) {
    while (next < nconns && next - opened < SUB_OPENING_MAX) {
      /* The last one drives the run; it connects once every subscriber is open. */
      if (next == subscribers && opened < subscribers) break;
      if (open_conn(&conns[next]) < 0) die("connect");
      conns[next].control = next == subscribers;
      next++;
    }
    if (opening_step(&opened, deadline, NULL) < 0) return 1;
  }
  struct conn *control = &conns[subscribers];
  /* Subscribing may take the server a moment (a backplane): ask until it counts them all. */
  char want[16];
  snprintf(want, sizeof want, "%d", subscribers);
  for (int attempt = 0;; attempt++) {
    control_send(control, "count");
    if (sub_wait(control_answered, now_ns() + SUB_ROUND_WAIT_NS) < 0) die("count");
    if (control->ctrl_len == strlen(want) && memcmp(control->ctrl, want, control->ctrl_len) == 0)
      break;
    if (attempt == 200) {
      fprintf(stderr, "loadgen: the server counts %.*s subscribers, not %s\n",
              (int)control->ctrl_len, control->ctrl, want);
      return 1;
    }
    epoll_wait(epfd, events, 1, 50);
  }
  char command[32];
  snprintf(command, sizeof command, "pub %d", burst);
  /* Warm-up, bursts included: a server's first burst pays for its JIT compiling that path. */
  for (int round = 0; round < SUB_WARMUP; round++) {
    sub_target++;
    sub_round(control, "pub 1", 1);
  }
  sub_target += (uint64_t)burst;
  sub_round(control, command, burst);
  double cpu0 = cpu_seconds();
  int64_t server0 = process_cpu_ns(server_pid);
  int64_t busy = 0;
  for (int round = 0; round < rounds; round++) {
    sub_target++;
    int64_t ns = sub_round(control, "pub 1", 1);
    samples[nsamples++] = (uint32_t)(ns / 1000);
    busy += ns;
  }
  double round_cpu = cpu_seconds() - cpu0;
  int64_t round_server = process_cpu_ns(server_pid) - server0;
  /* The median burst; CPU over all of them. */
  int64_t bursts[SUB_BURSTS];
  cpu0 = cpu_seconds();
  server0 = process_cpu_ns(server_pid);
  int64_t burst_total = 0;
  for (int i = 0; i < SUB_BURSTS; i++) {
    sub_target += (uint64_t)burst;
    bursts[i] = sub_round(control, command, burst);
    burst_total += bursts[i];
  }
  double burst_cpu = cpu_seconds() - cpu0;
  int64_t burst_server = (process_cpu_ns(server_pid) - server0) / SUB_BURSTS;
  qsort(bursts, SUB_BURSTS, sizeof *bursts, cmp_ns);
  int64_t burst_ns = bursts[SUB_BURSTS / 2];
  for (int i = 0; i < nconns; i++) close_conn(&conns[i]);
  /* *_cpu: this process's CPU share while waiting (near 1 would mean it is the bottleneck);
     server_*_ns: the server's CPU time per message delivered to one subscriber. */
  printf("{\"type\":\"subscribe\",\"subscribers\":%d,\"rounds\":%d,\"burst\":%d,"
         "\"burst_seconds\":%.6f,\"per_second\":%.0f,\"round_cpu\":%.4f,\"burst_cpu\":%.4f,"
         "\"server_round_ns\":%.1f,\"server_burst_ns\":%.1f",
         subscribers, rounds, burst, burst_ns / 1e9,
         burst_ns > 0 ? (double)subscribers * burst / (burst_ns / 1e9) : 0,
         busy > 0 ? round_cpu / (busy / 1e9) : 0, burst_total > 0 ? burst_cpu / (burst_total / 1e9) : 0,
         rounds > 0 ? (double)round_server / ((double)rounds * subscribers) : 0,
         (double)burst_server / ((double)burst * subscribers));
  print_percentiles();
  printf("}\n");
  return 0;
}

static int arg(char **argv, int i) {
  char *end;
  long v = strtol(argv[i], &end, 10);
  if (*end != 0 || v < 0 || v > 1L << 30) {
    fprintf(stderr, "loadgen: bad number %s\n", argv[i]);
    exit(2);
  }
  return (int)v;
}

/* A count from 1 to `max`, or exit naming it. */
static int count_arg(char **argv, int i, int max, const char *name) {
  int v = arg(argv, i);
  if (v < 1 || v > max) {
    fprintf(stderr, "loadgen: %s must be 1..%d\n", name, max);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  epfd = epoll_create1(0);
  if (epfd < 0) die("epoll_create1");
  rng ^= (uint64_t)now_ns() * 0x2545F4914F6CDD1DULL;
  int text = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "text") == 0) text = 1;
    else if (strcmp(argv[i], "deflate") == 0) {
      use_deflate = 1;
      offer = "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n";
    } else if (strcmp(argv[i], "deflate-shared") == 0) {
      offer = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n";
    } else if (strcmp(argv[i], "deflate-own") == 0) {
      offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    }
    else if (strcmp(argv[i], "tls") == 0) {
      tls_ctx = SSL_CTX_new(TLS_client_method());
      if (tls_ctx == NULL) die("SSL_CTX_new");
      SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
      SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
  }
  if (argc >= 8 && strcmp(argv[1], "throughput") == 0) {
    port = arg(argv, 2);
    inflight = arg(argv, 5);
    int count = arg(argv, 4);
    if (count < 1 || count > MAX_CONNS || inflight < 1) {
      fprintf(stderr, "loadgen: conns must be 1..%d and inflight >= 1\n", MAX_CONNS);
      return 2;
    }
    return run_throughput(arg(argv, 3), count, arg(argv, 6), arg(argv, 7), text);
  }
  if (argc >= 5 && strcmp(argv[1], "handshakes") == 0) {
    port = arg(argv, 2);
    return run_handshakes(count_arg(argv, 3, MAX_CONNS, "concurrency"), arg(argv, 4));
  }
  if (argc >= 6 && strcmp(argv[1], "subscribe") == 0) {
    port = arg(argv, 2);
    int subscribers = count_arg(argv, 3, MAX_SUBSCRIBERS, "subscribers");
    int pid = argc >= 7 && argv[6][0] >= '0' && argv[6][0] <= '9' ? arg(argv, 6) : 0;
    return run_subscribe(subscribers, arg(argv, 4), arg(argv, 5), pid);
  }
  fprintf(stderr,
          "usage: loadgen throughput PORT SIZE CONNS INFLIGHT WARMUP_MS DURATION_MS [text] "
          "[deflate] [tls]\n"
          "       loadgen handshakes PORT CONCURRENCY DURATION_MS [tls]\n"
          "       loadgen subscribe PORT SUBSCRIBERS ROUNDS BURST [SERVER_PID] "
          "[deflate-shared|deflate-own]\n");
  return 2;
}
