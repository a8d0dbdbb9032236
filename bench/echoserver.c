/*
 * The C echo server of bench/client.ts: one thread, epoll, raw sockets.
 *
 * The client benchmark needs a server that is never the bottleneck, the way
 * bench/loadgen.c is a generator that never is: this one spends a small
 * fraction of a core on any row, so the figures measure the clients. It
 * speaks just enough RFC 6455: the 101 (SHA-1 and base64 from OpenSSL's
 * libcrypto), then every data frame echoed as it arrives with its own opcode
 * and FIN bit (so fragmented messages come back fragmented alike), pings
 * answered, closes echoed. No extension is negotiated.
 *
 *   echoserver PORT      (0: any free port; binds 127.0.0.1 only)
 *
 * Prints `listening <port>` on stdout once it accepts; runs until SIGTERM.
 * Built by bench/echo-loadgen.ts with `cc -O2 ... -lcrypto`; nothing built
 * is committed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 8192
#define MAX_FRAME_HEAD 14

struct peer {
  int fd;
  int open;
  char head[HEAD_MAX];
  size_t head_len;
  /* Frame state: header bytes so far, then payload left, its mask and offset. */
  uint8_t hdr[MAX_FRAME_HEAD];
  size_t hdr_len;
  uint64_t left;
  uint64_t offset;
  uint8_t mask[4];
  int opcode;
  uint8_t ctrl[125];
  size_t ctrl_len;
  uint8_t *out;
  size_t out_len, out_off, out_cap;
  int want_out;
  int closing;
};

static int epfd;
static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static void queue(struct peer *p, const uint8_t *data, size_t len) {
  if (p->out_off > 0 && p->out_off == p->out_len) p->out_off = p->out_len = 0;
  if (p->out_len + len > p->out_cap) {
    size_t live = p->out_len - p->out_off;
    memmove(p->out, p->out + p->out_off, live);
    p->out_len = live;
    p->out_off = 0;
    size_t cap = p->out_cap ? p->out_cap : 16384;
    while (cap < live + len) cap *= 2;
    if (cap != p->out_cap) {
      p->out = realloc(p->out, cap);
      if (p->out == NULL) abort();
      p->out_cap = cap;
    }
  }
  memcpy(p->out + p->out_len, data, len);
  p->out_len += len;
}

/* An unmasked server frame header (RFC 6455 §5.2). */
static void queue_head(struct peer *p, uint8_t b0, uint64_t len) {
  uint8_t h[10];
  size_t n = 0;
  h[n++] = b0;
  if (len < 126) h[n++] = (uint8_t)len;
  else if (len < 65536) {
    h[n++] = 126;
    h[n++] = (uint8_t)(len >> 8);
    h[n++] = (uint8_t)len;
  } else {
    h[n++] = 127;
    for (int s = 56; s >= 0; s -= 8) h[n++] = (uint8_t)(len >> s);
  }
  queue(p, h, n);
}

static void drop(struct peer *p) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, NULL);
  close(p->fd);
  free(p->out);
  free(p);
}

static void watch(struct peer *p, int want_out) {
  if (p->want_out == want_out) return;
  p->want_out = want_out;
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = p};
  epoll_ctl(epfd, EPOLL_CTL_MOD, p->fd, &ev);
}

static int flush(struct peer *p) {
  while (p->out_off < p->out_len) {
    ssize_t n = write(p->fd, p->out + p->out_off, p->out_len - p->out_off);
    if (n > 0) {
      p->out_off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      watch(p, 1);
      return 0;
    }
    return -1;
  }
  p->out_off = p->out_len = 0;
  watch(p, 0);
  return p->closing ? -1 : 0;
}

/* RFC 6455 §4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)). */
static int answer_upgrade(struct peer *p) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  char *line = p->head;
  char *key = NULL;
  size_t key_len = 0;
  while ((line = strstr(line, "\r\n")) != NULL) {
    line += 2;
    if (strncasecmp(line, "Sec-WebSocket-Key:", 18) == 0) {
      key = line + 18;
      while (*key == ' ') key++;
      char *end = strstr(key, "\r\n");
      if (end == NULL) return -1;
      key_len = (size_t)(end - key);
      while (key_len > 0 && key[key_len - 1] == ' ') key_len--;
      break;
    }
  }
  if (key == NULL || key_len == 0 || key_len > 64) return -1;
  char joined[128];
  memcpy(joined, key, key_len);
  memcpy(joined + key_len, guid, sizeof guid - 1);
  uint8_t digest[SHA_DIGEST_LENGTH];
  SHA1((const uint8_t *)joined, key_len + sizeof guid - 1, digest);
  char accept[32];
  EVP_EncodeBlock((uint8_t *)accept, digest, SHA_DIGEST_LENGTH);
  char response[256];
  int n = snprintf(response, sizeof response,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                   accept);
  queue(p, (const uint8_t *)response, (size_t)n);
  return 0;
}

static void on_control(struct peer *p) {
  if (p->opcode == 0x9) {
    queue_head(p, 0x8a, p->ctrl_len);
    queue(p, p->ctrl, p->ctrl_len);
  } else if (p->opcode == 0x8) {
    /* Echo the close (§5.5.1), then close TCP once it is written (§7.1.1). */
    queue_head(p, 0x88, p->ctrl_len >= 2 ? 2 : 0);
    queue(p, p->ctrl, p->ctrl_len >= 2 ? 2 : 0);
    p->closing = 1;
  }
}

/* Unmasks and echoes payload bytes as they arrive; no message is buffered whole. */
static void frames(struct peer *p, uint8_t *d, size_t n) {
  while (n > 0 && !p->closing) {
    if (p->left == 0 && p->hdr_len < 2) {
      p->hdr[p->hdr_len++] = *d++;
      n--;
      continue;
    }
    if (p->left == 0) {
      int len7 = p->hdr[1] & 0x7f;
      size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
      while (p->hdr_len < need && n > 0) {
        p->hdr[p->hdr_len++] = *d++;
        n--;
      }
      if (p->hdr_len < need) return;
      uint64_t len = (uint64_t)len7;
      if (len7 == 126) len = ((uint64_t)p->hdr[2] << 8) | p->hdr[3];
      else if (len7 == 127)
        for (int i = 2, j = 0; j < 8; i++, j++) len = (j == 0 ? 0 : len << 8) | p->hdr[i];
      memcpy(p->mask, p->hdr + need - 4, 4);
      p->opcode = p->hdr[0] & 0x0f;
      p->offset = 0;
      p->ctrl_len = 0;
      p->hdr_len = 0;
      if (p->opcode < 0x8) queue_head(p, p->hdr[0] & 0x8f, len);
      if (len == 0) {
        if (p->opcode >= 0x8) on_control(p);
        continue;
      }
      p->left = len;
    }
    size_t take = p->left < n ? (size_t)p->left : n;
    for (size_t i = 0; i < take; i++) d[i] ^= p->mask[(p->offset + i) & 3];
    if (p->opcode >= 0x8) {
      if (p->ctrl_len + take <= sizeof p->ctrl) memcpy(p->ctrl + p->ctrl_len, d, take);
      p->ctrl_len += take;
    } else {
      queue(p, d, take);
    }
    p->offset += take;
    p->left -= take;
    d += take;
    n -= take;
    if (p->left == 0 && p->opcode >= 0x8) on_control(p);
  }
}

static int on_readable(struct peer *p) {
  static uint8_t buf[1 << 18];
  for (int reads = 0; reads < 64; reads++) {
    ssize_t n = read(p->fd, buf, sizeof buf);
    if (n == 0) return -1;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return -1;
    }
    uint8_t *d = buf;
    size_t len = (size_t)n;
    if (!p->open) {
      size_t take = len < HEAD_MAX - 1 - p->head_len ? len : HEAD_MAX - 1 - p->head_len;
      memcpy(p->head + p->head_len, d, take);
      p->head_len += take;
      p->head[p->head_len] = 0;
      char *end = strstr(p->head, "\r\n\r\n");
      if (end == NULL) {
        if (p->head_len >= HEAD_MAX - 1) return -1;
        continue;
      }
      size_t used = (size_t)(end + 4 - p->head) - (p->head_len - take);
      if (answer_upgrade(p) < 0) return -1;
      p->open = 1;
      d += used;
      len -= used;
    }
    frames(p, d, len);
    if ((size_t)n < sizeof buf) break;
  }
  return flush(p);
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 1024) < 0) {
    perror("echoserver: bind/listen");
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &alen);
  printf("listening %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  epfd = epoll_create1(0);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
  struct epoll_event events[256];
  while (!stopping) {
    int k = epoll_wait(epfd, events, 256, 200);
    for (int i = 0; i < k; i++) {
      struct peer *p = events[i].data.ptr;
      if (p == NULL) {
        for (int accepted = 0; accepted < 256; accepted++) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct peer *np = calloc(1, sizeof *np);
          if (np == NULL) abort();
          np->fd = fd;
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = np};
          epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      int r = (events[i].events & EPOLLIN) ? on_readable(p) : flush(p);
      if (r < 0 || (events[i].events & (EPOLLERR | EPOLLHUP))) drop(p);
    }
  }
  return 0;
}
