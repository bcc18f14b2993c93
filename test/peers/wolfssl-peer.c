/*
 * wolfssl-peer: a small echo client/server over wolfSSL, for tsls's interop tests.
 * wolfSSL ships no command-line tool like openssl s_client/s_server, so the tests build
 * this one (test/peers/setup.sh compiles it against the wolfSSL fetched from Debian sid).
 *
 *   wolfssl-peer --version
 *   wolfssl-peer server --port N [options]   prints "ACCEPT" once bound; echoes every record back
 *   wolfssl-peer client --port N [options]   sends each stdin line as a record, prints what comes back;
 *                                            stdin EOF sends close_notify and exits. Two stdin lines are
 *                                            commands, not data: "KEYUPDATE" sends a KeyUpdate (TLS/DTLS
 *                                            1.3), "RECONNECT" closes and connects again from a new socket
 *                                            (a new source port), resuming the session if it has a ticket
 * options:
 *   --proto tls1.3|tls1.2|dtls1.3|dtls1.2|dtls   (default tls1.3; dtls: the highest DTLS both speak)
 *   --cert FILE --key FILE        certificate chain (PEM) and key (server default: none, PSK only; a
 *                                 client with one answers a CertificateRequest)
 *   --ca FILE                     verify the peer against this root (a server then requires a client
 *                                 certificate); with --verify-name NAME the client checks the server's
 *                                 name too (SNI NAME is sent)
 *   --psk HEX --psk-identity ID   a pre-shared key (TLS 1.3 external PSK / TLS 1.2 PSK suites)
 *   --cid HEX                     DTLS connection ID this side wants to receive (RFC 9146 / 9147)
 *   --groups G1:G2:...            supported groups in order; the client sends a key share for G1 only
 *   --ciphers LIST                wolfSSL cipher list (OpenSSL-style names)
 *   --mtu N                       DTLS path MTU
 *   --naccept N                   connections the server takes before exiting (default 1)
 *   --hrr-cookie on|off           DTLS 1.3 server: answer a ClientHello without a cookie with a
 *                                 HelloRetryRequest carrying one (wolfSSL's default: on)
 *   --no-ticket                   TLS/DTLS 1.3 server: send no NewSessionTicket
 *   --key-update                  server: send a KeyUpdate before echoing each record
 *
 * Everything the tests look for is one line on stdout: "ACCEPT", "HANDSHAKE version=… cipher=…
 * group=… resumed=0|1 [cid=…] [peer=SUBJECT]", "KEYUPDATE sent", "CLOSED", or "ERROR where: code
 * text" (then exit status 1).
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

/* What the DTLS 1.3 interop tests need of the library; a build without it fails here, not in a test. */
#if !defined(WOLFSSL_DTLS13) || !defined(WOLFSSL_DTLS_CID) || !defined(WOLFSSL_SEND_HRR_COOKIE) || !defined(HAVE_SESSION_TICKET)
#error "this wolfSSL lacks DTLS 1.3, connection IDs, HRR cookies or session tickets"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct options {
  int server;
  const char *host;
  int port;
  const char *proto;
  const char *cert, *key, *ca, *verify_name;
  unsigned char psk[64];
  unsigned int psk_len;
  const char *psk_identity;
  unsigned char cid[32];
  int cid_len; /* -1: no connection ID extension */
  const char *groups;
  const char *ciphers;
  int mtu;
  int naccept;
  int hrr_cookie; /* -1: wolfSSL's default */
  int no_ticket;
  int key_update;
};

static struct options opt = {.host = "127.0.0.1", .proto = "tls1.3", .cid_len = -1, .naccept = 1, .hrr_cookie = -1};

static int dtls(void) { return strncmp(opt.proto, "dtls", 4) == 0; }

/* Print "ERROR where: code text" and exit 1. With an ssl, ret is what the call returned; without,
 * ret is an error code, or WOLFSSL_FAILURE from a setting wolfSSL refused (a cipher list, say). */
static void fail(const char *where, WOLFSSL *ssl, int ret) {
  char text[WOLFSSL_MAX_ERROR_SZ] = "";
  int err = ssl ? wolfSSL_get_error(ssl, ret) : ret;
  if (!ssl && ret == WOLFSSL_FAILURE) {
    printf("ERROR %s: refused by this wolfSSL\n", where);
    exit(1);
  }
  wolfSSL_ERR_error_string_n(err, text, sizeof text);
  printf("ERROR %s: %d %s\n", where, err, text);
  exit(1);
}

/* Print "ERROR where: errno text" for a failed system call and exit 1. */
static void fail_errno(const char *where) {
  printf("ERROR %s: %d %s\n", where, errno, strerror(errno));
  exit(1);
}

static void usage(const char *why) {
  fprintf(stderr, "wolfssl-peer: %s (see the comment at the top of test/peers/wolfssl-peer.c)\n", why);
  exit(2);
}

static unsigned int hex(const char *s, unsigned char *out, unsigned int max) {
  size_t n = strlen(s);
  if (n % 2 || n / 2 > max) usage("bad hex value");
  for (size_t i = 0; i < n / 2; i++) {
    unsigned int b;
    if (sscanf(s + 2 * i, "%2x", &b) != 1) usage("bad hex value");
    out[i] = (unsigned char)b;
  }
  return (unsigned int)(n / 2);
}

/* IANA TLS NamedGroup code points by the names OpenSSL uses. */
static int group_id(const char *name) {
  static const struct { const char *name; int id; } table[] = {
      {"secp256r1", 23}, {"P-256", 23}, {"secp384r1", 24}, {"P-384", 24}, {"secp521r1", 25}, {"P-521", 25},
      {"x25519", 29},    {"X25519", 29}, {"x448", 30},     {"X448", 30},  {"ffdhe2048", 256}, {"ffdhe3072", 257},
      {"MLKEM768", 513}, {"SecP256r1MLKEM768", 4587},     {"X25519MLKEM768", 4588}, {"SecP384r1MLKEM1024", 4589},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(table[i].name, name) == 0) return table[i].id;
  usage("unknown group");
  return 0;
}

static unsigned int psk_client(WOLFSSL *ssl, const char *hint, char *identity, unsigned int id_max,
                               unsigned char *key, unsigned int key_max) {
  (void)ssl;
  (void)hint;
  if (strlen(opt.psk_identity) >= id_max || opt.psk_len > key_max) return 0;
  strcpy(identity, opt.psk_identity);
  memcpy(key, opt.psk, opt.psk_len);
  return opt.psk_len;
}

static unsigned int psk_server(WOLFSSL *ssl, const char *identity, unsigned char *key, unsigned int key_max) {
  (void)ssl;
  if (strcmp(identity, opt.psk_identity) != 0 || opt.psk_len > key_max) return 0;
  memcpy(key, opt.psk, opt.psk_len);
  return opt.psk_len;
}

static WOLFSSL_METHOD *method(void) {
  if (strcmp(opt.proto, "tls1.3") == 0) return opt.server ? wolfTLSv1_3_server_method() : wolfTLSv1_3_client_method();
  if (strcmp(opt.proto, "tls1.2") == 0) return opt.server ? wolfTLSv1_2_server_method() : wolfTLSv1_2_client_method();
  if (strcmp(opt.proto, "dtls1.3") == 0) return opt.server ? wolfDTLSv1_3_server_method() : wolfDTLSv1_3_client_method();
  if (strcmp(opt.proto, "dtls1.2") == 0) return opt.server ? wolfDTLSv1_2_server_method() : wolfDTLSv1_2_client_method();
  if (strcmp(opt.proto, "dtls") == 0) return opt.server ? wolfDTLS_server_method() : wolfDTLS_client_method();
  usage("unknown --proto");
  return NULL;
}

static WOLFSSL_CTX *make_ctx(void) {
  WOLFSSL_CTX *ctx = wolfSSL_CTX_new(method());
  int ret;
  if (!ctx) fail("CTX_new", NULL, 0);
  if (opt.cert && (ret = wolfSSL_CTX_use_certificate_chain_file(ctx, opt.cert)) != WOLFSSL_SUCCESS) fail("certificate", NULL, ret);
  if (opt.key && (ret = wolfSSL_CTX_use_PrivateKey_file(ctx, opt.key, WOLFSSL_FILETYPE_PEM)) != WOLFSSL_SUCCESS) fail("key", NULL, ret);
  if (opt.ca) {
    if ((ret = wolfSSL_CTX_load_verify_locations(ctx, opt.ca, NULL)) != WOLFSSL_SUCCESS) fail("ca", NULL, ret);
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER | (opt.server ? WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
  } else {
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
  }
  if (opt.ciphers && (ret = wolfSSL_CTX_set_cipher_list(ctx, opt.ciphers)) != WOLFSSL_SUCCESS) fail("ciphers", NULL, ret);
  if (opt.psk_identity) {
    if (opt.server)
      wolfSSL_CTX_set_psk_server_callback(ctx, psk_server);
    else
      wolfSSL_CTX_set_psk_client_callback(ctx, psk_client);
  }
  return ctx;
}

static void configure(WOLFSSL *ssl) {
  int ret;
  if (opt.groups) {
    int ids[16], n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", opt.groups);
    for (char *save, *g = strtok_r(buf, ":", &save); g && n < 16; g = strtok_r(NULL, ":", &save)) ids[n++] = group_id(g);
    if ((ret = wolfSSL_set_groups(ssl, ids, n)) != WOLFSSL_SUCCESS) fail("groups", NULL, ret);
    if (!opt.server && !strstr(opt.proto, "1.2")) { /* tls1.3, dtls1.3, dtls: 1.3 offered */
      wolfSSL_NoKeyShares(ssl);
      if ((ret = wolfSSL_UseKeyShare(ssl, (word16)ids[0])) != WOLFSSL_SUCCESS) fail("key share", NULL, ret);
    }
  }
  if (!opt.server && opt.verify_name) {
    if ((ret = wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, opt.verify_name, (word16)strlen(opt.verify_name))) != WOLFSSL_SUCCESS) fail("SNI", NULL, ret);
    if ((ret = wolfSSL_check_domain_name(ssl, opt.verify_name)) != WOLFSSL_SUCCESS) fail("verify name", NULL, ret);
  }
  if (dtls()) {
    if (opt.mtu && (ret = wolfSSL_dtls_set_mtu(ssl, (unsigned short)opt.mtu)) != WOLFSSL_SUCCESS) fail("mtu", NULL, ret);
    if (opt.cid_len >= 0) {
      if ((ret = wolfSSL_dtls_cid_use(ssl)) != WOLFSSL_SUCCESS) fail("cid_use", NULL, ret);
      if ((ret = wolfSSL_dtls_cid_set(ssl, opt.cid, (unsigned int)opt.cid_len)) != WOLFSSL_SUCCESS) fail("cid_set", NULL, ret);
    }
    /* (0 is this call's success.) */
    if (opt.no_ticket && (ret = wolfSSL_no_ticket_TLSv13(ssl)) != 0) fail("no ticket", NULL, ret);
    if (opt.server && opt.hrr_cookie == 1 && (ret = wolfSSL_send_hrr_cookie(ssl, NULL, 0)) != WOLFSSL_SUCCESS) fail("hrr cookie", NULL, ret);
    if (opt.server && opt.hrr_cookie == 0 && (ret = wolfSSL_disable_hrr_cookie(ssl)) != WOLFSSL_SUCCESS) fail("hrr cookie", NULL, ret);
  }
}

static void print_handshake(WOLFSSL *ssl) {
  const char *group = wolfSSL_get_curve_name(ssl);
  printf("HANDSHAKE version=%s cipher=%s group=%s resumed=%d", wolfSSL_get_version(ssl), wolfSSL_get_cipher_name(ssl),
         group ? group : "none", wolfSSL_session_reused(ssl));
  if (dtls() && opt.cid_len >= 0) {
    unsigned int tx = 0;
    unsigned char cid[64];
    if (wolfSSL_dtls_cid_is_enabled(ssl) && wolfSSL_dtls_cid_get_tx_size(ssl, &tx) == WOLFSSL_SUCCESS &&
        wolfSSL_dtls_cid_get_tx(ssl, cid, sizeof cid) == WOLFSSL_SUCCESS) {
      printf(" cid=");
      for (unsigned int i = 0; i < tx; i++) printf("%02x", cid[i]);
    } else {
      printf(" cid=none");
    }
  }
  /* Last, as a subject may hold spaces. (The X509 is the session's: not freed here.) */
  WOLFSSL_X509 *peer = wolfSSL_get_peer_certificate(ssl);
  char subject[256];
  if (peer && wolfSSL_X509_NAME_oneline(wolfSSL_X509_get_subject_name(peer), subject, sizeof subject)) printf(" peer=%s", subject);
  printf("\n");
}

/* TCP or UDP socket; the server's is bound (and listening for TCP), the client's connected. */
static int open_socket(void) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)opt.port)};
  int fd = socket(AF_INET, dtls() ? SOCK_DGRAM : SOCK_STREAM, 0), one = 1;
  if (fd < 0) fail_errno("socket");
  if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) usage("--host must be an IPv4 address");
  if (opt.server) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) fail_errno("bind");
    if (!dtls() && listen(fd, 8) != 0) fail_errno("listen");
  } else if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    fail_errno("connect");
  }
  return fd;
}

/*
 * The server's side of one connection: a TCP accept, or the UDP peer of the next datagram that
 * holds a handshake record (a ClientHello starts every DTLS association in a plaintext record of
 * content type 22); stragglers of an association that ended (an ACK, a retransmission) are dropped.
 */
static int take_connection(int listener, WOLFSSL *ssl) {
  if (!dtls()) {
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) fail_errno("accept");
    wolfSSL_set_fd(ssl, fd);
    return fd;
  }
  struct sockaddr_in from;
  socklen_t len;
  unsigned char byte;
  fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) & ~O_NONBLOCK); /* run() made it non-blocking */
  for (;;) {
    len = sizeof from;
    if (recvfrom(listener, &byte, 1, MSG_PEEK, (struct sockaddr *)&from, &len) < 0) {
      /* wolfSSL's blocking DTLS I/O leaves a receive timeout on the socket: a quiet spell
       * between two clients is no error. */
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      fail_errno("recvfrom");
    }
    if (byte == 22) break;
    recv(listener, &byte, 1, 0);
  }
  wolfSSL_dtls_set_peer(ssl, &from, len);
  wolfSSL_set_fd(ssl, listener);
  return listener;
}

static void write_all(WOLFSSL *ssl, const char *buf, int n) {
  for (;;) {
    int ret = wolfSSL_write(ssl, buf, n);
    if (ret == n) return;
    int err = wolfSSL_get_error(ssl, ret);
    if (err != WOLFSSL_ERROR_WANT_WRITE && err != WOLFSSL_ERROR_WANT_READ) fail("write", ssl, ret);
    poll(NULL, 0, 1);
  }
}

/* A KeyUpdate (RFC 8446 4.6.3; over DTLS 1.3 wolfSSL then waits for its ACK before using the new keys). */
static void key_update(WOLFSSL *ssl) {
  int ret = wolfSSL_update_keys(ssl);
  if (ret != WOLFSSL_SUCCESS && wolfSSL_get_error(ssl, ret) != WOLFSSL_ERROR_WANT_WRITE) fail("key update", ssl, ret);
  printf("KEYUPDATE sent\n");
}

enum ending { ENDED, RECONNECT };

/* stdin bytes not yet ending in a newline (the client sends whole lines). */
static char pending_line[16384];
static size_t pending_len;

/*
 * Move records until the peer closes (server: echo them; client: stdin lines out, records to stdout).
 * The socket is non-blocking from here on: a blocking wolfSSL_read would wait for application
 * data through records that carry none (tickets, ACKs, KeyUpdates) and never see stdin.
 */
static enum ending run(WOLFSSL *ssl, int fd) {
  char buf[16384];
  int stdin_open = !opt.server;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (dtls()) wolfSSL_dtls_set_using_nonblock(ssl, 1);
  for (;;) {
    struct pollfd fds[2] = {{.fd = fd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
    int timeout_ms = dtls() ? wolfSSL_dtls_get_current_timeout(ssl) * 1000 : -1;
    int ready = wolfSSL_pending(ssl) > 0 ? 1 : poll(fds, stdin_open ? 2 : 1, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      fail_errno("poll");
    }
    if (ready == 0) { /* DTLS: time to retransmit whatever is unacknowledged */
      wolfSSL_dtls_got_timeout(ssl);
      continue;
    }
    if (wolfSSL_pending(ssl) > 0 || fds[0].revents) {
      int n = wolfSSL_read(ssl, buf, sizeof buf);
      if (n <= 0) {
        int err = wolfSSL_get_error(ssl, n);
        if (err == WOLFSSL_ERROR_ZERO_RETURN || (err == SOCKET_PEER_CLOSED_E) || (n == 0 && err == WOLFSSL_ERROR_SYSCALL)) {
          printf("CLOSED\n");
          wolfSSL_shutdown(ssl);
          return ENDED;
        }
        if (err == WOLFSSL_ERROR_WANT_READ) continue; /* a DTLS retransmission or an ignored datagram */
        fail("read", ssl, n);
      }
      if (opt.server) {
        if (opt.key_update) key_update(ssl);
        write_all(ssl, buf, n);
      } else {
        fwrite(buf, 1, (size_t)n, stdout);
      }
    }
    if (stdin_open && fds[1].revents) {
      ssize_t n = read(0, pending_line + pending_len, sizeof pending_line - pending_len);
      if (n <= 0) {
        stdin_open = 0;
        wolfSSL_shutdown(ssl);
        printf("CLOSED\n");
        return ENDED;
      }
      pending_len += (size_t)n;
      char *line = pending_line, *nl;
      while ((nl = memchr(line, '\n', pending_len - (size_t)(line - pending_line)))) {
        size_t length = (size_t)(nl - line) + 1;
        if (length == sizeof "KEYUPDATE" && memcmp(line, "KEYUPDATE\n", length) == 0) {
          key_update(ssl);
        } else if (length == sizeof "RECONNECT" && memcmp(line, "RECONNECT\n", length) == 0) {
          pending_len -= (size_t)(nl + 1 - pending_line);
          memmove(pending_line, nl + 1, pending_len);
          wolfSSL_shutdown(ssl);
          return RECONNECT;
        } else {
          write_all(ssl, line, (int)length);
        }
        line = nl + 1;
      }
      pending_len -= (size_t)(line - pending_line);
      memmove(pending_line, line, pending_len);
      if (pending_len == sizeof pending_line) { /* a line longer than a record: send what there is */
        write_all(ssl, pending_line, (int)pending_len);
        pending_len = 0;
      }
    }
  }
}

static void parse(int argc, char **argv) {
  if (argc < 2) usage("say server, client or --version");
  if (strcmp(argv[1], "--version") == 0) {
    printf("wolfSSL %s\n", wolfSSL_lib_version());
    exit(0);
  }
  if (strcmp(argv[1], "server") == 0) opt.server = 1;
  else if (strcmp(argv[1], "client") != 0) usage("say server, client or --version");
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--no-ticket") == 0) {
      opt.no_ticket = 1;
      continue;
    }
    if (strcmp(a, "--key-update") == 0) {
      opt.key_update = 1;
      continue;
    }
    if (!v) usage("option without a value");
    i++;
    if (strcmp(a, "--host") == 0) opt.host = v;
    else if (strcmp(a, "--port") == 0) opt.port = atoi(v);
    else if (strcmp(a, "--proto") == 0) opt.proto = v;
    else if (strcmp(a, "--cert") == 0) opt.cert = v;
    else if (strcmp(a, "--key") == 0) opt.key = v;
    else if (strcmp(a, "--ca") == 0) opt.ca = v;
    else if (strcmp(a, "--verify-name") == 0) opt.verify_name = v;
    else if (strcmp(a, "--psk") == 0) opt.psk_len = hex(v, opt.psk, sizeof opt.psk);
    else if (strcmp(a, "--psk-identity") == 0) opt.psk_identity = v;
    else if (strcmp(a, "--cid") == 0) opt.cid_len = (int)hex(v, opt.cid, sizeof opt.cid);
    else if (strcmp(a, "--groups") == 0) opt.groups = v;
    else if (strcmp(a, "--ciphers") == 0) opt.ciphers = v;
    else if (strcmp(a, "--mtu") == 0) opt.mtu = atoi(v);
    else if (strcmp(a, "--naccept") == 0) opt.naccept = atoi(v);
    else if (strcmp(a, "--hrr-cookie") == 0) opt.hrr_cookie = strcmp(v, "on") == 0 ? 1 : strcmp(v, "off") == 0 ? 0 : (usage("--hrr-cookie on|off"), -1);
    else usage("unknown option");
  }
  if (!opt.port) usage("--port is required");
  if (!!opt.psk_len != !!opt.psk_identity) usage("--psk and --psk-identity go together");
}

int main(int argc, char **argv) {
  parse(argc, argv);
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGPIPE, SIG_IGN);
  wolfSSL_Init();
  WOLFSSL_CTX *ctx = make_ctx();
  int listener = open_socket();
  WOLFSSL_SESSION *session = NULL; /* client: the session of the connection before a RECONNECT */
  if (opt.server) printf("ACCEPT\n");
  for (int served = 0; !opt.server || served < opt.naccept; served++) {
    WOLFSSL *ssl = wolfSSL_new(ctx);
    if (!ssl) fail("new", NULL, 0);
    configure(ssl);
    int fd = opt.server ? take_connection(listener, ssl) : listener;
    if (!opt.server) wolfSSL_set_fd(ssl, fd);
    /* Refused when the session cannot be resumed (no ticket came): a full handshake, resumed=0 says so. */
    if (session) wolfSSL_set_session(ssl, session);
    int ret = opt.server ? wolfSSL_accept(ssl) : wolfSSL_connect(ssl);
    if (ret != WOLFSSL_SUCCESS) fail(opt.server ? "accept" : "connect", ssl, ret);
    print_handshake(ssl);
    enum ending ending = run(ssl, fd);
    if (ending == RECONNECT) {
      if (session) wolfSSL_SESSION_free(session);
      session = wolfSSL_get1_session(ssl);
    }
    wolfSSL_free(ssl);
    if (fd != listener) close(fd);
    if (!opt.server) {
      if (ending != RECONNECT) break;
      close(listener);
      listener = open_socket();
    }
  }
  if (session) wolfSSL_SESSION_free(session);
  wolfSSL_CTX_free(ctx);
  wolfSSL_Cleanup();
  return 0;
}
