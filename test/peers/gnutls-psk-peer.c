/*
 * gnutls-psk-peer: a small TLS 1.3 echo client/server over GnuTLS with an external PSK that is
 * imported (RFC 9258) or used as it is, for tsls's interop tests. gnutls-cli and gnutls-serv
 * take no imported PSK, so the tests build this one (test/peers/setup.sh compiles it against
 * the GnuTLS headers and library fetched from Debian sid).
 *
 *   gnutls-psk-peer --version
 *   gnutls-psk-peer server --port N [options]   prints "ACCEPT" once bound; echoes every record back
 *   gnutls-psk-peer client --port N [options]   sends each stdin line as a record, prints what comes
 *                                               back; stdin EOF sends close_notify and exits
 * options:
 *   --psk HEX --psk-identity ID   the external PSK and its identity (required)
 *   --import                      use it as an imported PSK (GNUTLS_PSK_KEY_EXT)
 *   --context CTX                 the ImportedIdentity context (client; the server checks it)
 *   --hash sha256|sha384          the PSK's hash: the credential's binder hash and, when
 *                                 imported, the target KDF (default sha256)
 *   --priority STR                GnuTLS priority string (default: TLS 1.3 with PSK key exchange)
 *   --naccept N                   connections the server takes before exiting (default 1)
 *
 * Everything the tests look for is one line on stdout: "ACCEPT", "HANDSHAKE version=…
 * cipher=… identity=HEX", "CLOSED", or "ERROR where: text" (then exit status 1).
 */
#include <gnutls/gnutls.h>

#include <arpa/inet.h>
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
  int port;
  unsigned char psk[64];
  unsigned int psk_len;
  const char *identity;
  int import;
  const char *context;
  const char *hash;
  const char *priority;
  int naccept;
};

static struct options opt = {.context = "", .hash = "sha256", .naccept = 1,
                             .priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+DHE-PSK:+PSK"};

static void fail(const char *where, const char *text) {
  printf("ERROR %s: %s\n", where, text);
  fflush(stdout);
  exit(1);
}

static void check(int ret, const char *where) {
  if (ret < 0) fail(where, gnutls_strerror(ret));
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void parse_hex(const char *hex) {
  size_t n = strlen(hex);
  if (n % 2 || n / 2 > sizeof opt.psk) fail("usage", "--psk takes up to 64 bytes in hex");
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) fail("usage", "--psk takes hex");
    opt.psk[i] = (unsigned char)(hi << 4 | lo);
  }
  opt.psk_len = (unsigned int)(n / 2);
}

static gnutls_mac_algorithm_t mac_of(void) {
  if (strcmp(opt.hash, "sha256") == 0) return GNUTLS_MAC_SHA256;
  if (strcmp(opt.hash, "sha384") == 0) return GNUTLS_MAC_SHA384;
  fail("usage", "--hash is sha256 or sha384");
  return GNUTLS_MAC_UNKNOWN;
}

/* The ImportedIdentity this peer stands for, as GnuTLS formats it. */
static gnutls_datum_t imported_identity(void) {
  gnutls_datum_t id = {(unsigned char *)opt.identity, (unsigned int)strlen(opt.identity)};
  gnutls_datum_t ctx = {(unsigned char *)opt.context, (unsigned int)strlen(opt.context)};
  gnutls_datum_t out = {NULL, 0};
  gnutls_digest_algorithm_t hash = strcmp(opt.hash, "sha384") == 0 ? GNUTLS_DIG_SHA384 : GNUTLS_DIG_SHA256;
  check(gnutls_psk_format_imported_identity(&id, &ctx, GNUTLS_TLS1_3, hash, &out), "gnutls_psk_format_imported_identity");
  return out;
}

/*
 * The server's key for an offered identity. GnuTLS hands over the identity as sent: with
 * --import, the whole ImportedIdentity, which must be the one this peer would format (same
 * external identity, context, protocol and hash); GnuTLS then derives the imported PSK.
 */
static int server_key(gnutls_session_t session, const gnutls_datum_t *username, gnutls_datum_t *key, gnutls_psk_key_flags *flags) {
  (void)session;
  int known;
  if (opt.import) {
    gnutls_datum_t want = imported_identity();
    known = username->size == want.size && memcmp(username->data, want.data, want.size) == 0;
    gnutls_free(want.data);
  } else {
    known = username->size == strlen(opt.identity) && memcmp(username->data, opt.identity, username->size) == 0;
  }
  if (!known) return -1;
  key->data = gnutls_malloc(opt.psk_len);
  if (!key->data) return -1;
  memcpy(key->data, opt.psk, opt.psk_len);
  key->size = opt.psk_len;
  *flags = opt.import ? GNUTLS_PSK_KEY_EXT : GNUTLS_PSK_KEY_RAW;
  return 0;
}

/* The client's identity (the ImportedIdentity) and key, marked as an external PSK to import. */
static int client_key(gnutls_session_t session, gnutls_datum_t *username, gnutls_datum_t *key, gnutls_psk_key_flags *flags) {
  (void)session;
  *username = imported_identity();
  key->data = gnutls_malloc(opt.psk_len);
  if (!key->data) return -1;
  memcpy(key->data, opt.psk, opt.psk_len);
  key->size = opt.psk_len;
  *flags = GNUTLS_PSK_KEY_EXT;
  return 0;
}

static void report(gnutls_session_t session) {
  const char *version = gnutls_protocol_get_name(gnutls_protocol_get_version(session));
  const char *cipher = gnutls_cipher_get_name(gnutls_cipher_get(session));
  const char *mac = gnutls_mac_get_name(gnutls_prf_hash_get(session) == GNUTLS_DIG_SHA384 ? GNUTLS_MAC_SHA384 : GNUTLS_MAC_SHA256);
  printf("HANDSHAKE version=%s cipher=%s prf=%s identity=", version ? version : "?", cipher ? cipher : "?", mac ? mac : "?");
  gnutls_datum_t name = {NULL, 0};
  if (opt.server && gnutls_psk_server_get_username2(session, &name) == 0) {
    for (unsigned int i = 0; i < name.size; i++) printf("%02x", name.data[i]);
  }
  printf("\n");
  fflush(stdout);
}

static gnutls_session_t new_session(unsigned int flags, void *cred, int fd) {
  gnutls_session_t session;
  check(gnutls_init(&session, flags), "gnutls_init");
  check(gnutls_priority_set_direct(session, opt.priority, NULL), "gnutls_priority_set_direct");
  check(gnutls_credentials_set(session, GNUTLS_CRD_PSK, cred), "gnutls_credentials_set");
  gnutls_transport_set_int(session, fd);
  gnutls_handshake_set_timeout(session, GNUTLS_DEFAULT_HANDSHAKE_TIMEOUT);
  int ret;
  do ret = gnutls_handshake(session);
  while (ret < 0 && !gnutls_error_is_fatal(ret));
  if (ret < 0) fail("handshake", gnutls_strerror(ret));
  report(session);
  return session;
}

static void serve(void) {
  gnutls_psk_server_credentials_t cred;
  check(gnutls_psk_allocate_server_credentials2(&cred, mac_of()), "gnutls_psk_allocate_server_credentials2");
  gnutls_psk_set_server_credentials_function3(cred, server_key);

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)opt.port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4) < 0) fail("bind", "address already in use or not available");
  printf("ACCEPT\n");
  fflush(stdout);
  for (int n = 0; n < opt.naccept; n++) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) fail("accept", "failed");
    gnutls_session_t session = new_session(GNUTLS_SERVER, cred, fd);
    char buf[16384];
    for (;;) {
      ssize_t got = gnutls_record_recv(session, buf, sizeof buf);
      if (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED) continue;
      if (got == 0) break;
      if (got < 0) fail("read", gnutls_strerror((int)got));
      check((int)gnutls_record_send(session, buf, (size_t)got), "write");
    }
    printf("CLOSED\n");
    fflush(stdout);
    gnutls_bye(session, GNUTLS_SHUT_WR);
    gnutls_deinit(session);
    close(fd);
  }
  gnutls_psk_free_server_credentials(cred);
}

static void client(void) {
  gnutls_psk_client_credentials_t cred;
  check(gnutls_psk_allocate_client_credentials2(&cred, mac_of()), "gnutls_psk_allocate_client_credentials2");
  gnutls_datum_t key = {opt.psk, opt.psk_len};
  if (opt.import) {
    /* gnutls_psk_set_client_credentials2 takes no flags but RAW and HEX for the key itself:
     * an imported key comes from the callback, which says GNUTLS_PSK_KEY_EXT. */
    gnutls_psk_set_client_credentials_function3(cred, client_key);
  } else {
    gnutls_datum_t id = {(unsigned char *)opt.identity, (unsigned int)strlen(opt.identity)};
    check(gnutls_psk_set_client_credentials2(cred, &id, &key, GNUTLS_PSK_KEY_RAW), "gnutls_psk_set_client_credentials2");
  }

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)opt.port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) fail("connect", "refused");
  gnutls_session_t session = new_session(GNUTLS_CLIENT, cred, fd);

  struct pollfd fds[2] = {{.fd = 0, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
  char buf[16384];
  for (;;) {
    if (gnutls_record_check_pending(session) == 0 && poll(fds, 2, -1) < 0) fail("poll", "failed");
    if (gnutls_record_check_pending(session) > 0 || (fds[1].revents & (POLLIN | POLLHUP))) {
      ssize_t got = gnutls_record_recv(session, buf, sizeof buf);
      if (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED) continue;
      if (got == 0) break;
      if (got < 0) fail("read", gnutls_strerror((int)got));
      fwrite(buf, 1, (size_t)got, stdout);
      fflush(stdout);
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      ssize_t got = read(0, buf, sizeof buf);
      if (got <= 0) {
        gnutls_bye(session, GNUTLS_SHUT_WR);
        fds[0].fd = -1;
        continue;
      }
      check((int)gnutls_record_send(session, buf, (size_t)got), "write");
    }
  }
  printf("CLOSED\n");
  fflush(stdout);
  gnutls_deinit(session);
  close(fd);
  gnutls_psk_free_client_credentials(cred);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    printf("GnuTLS %s\n", gnutls_check_version(NULL));
    return 0;
  }
  if (argc < 2 || (strcmp(argv[1], "server") != 0 && strcmp(argv[1], "client") != 0)) fail("usage", "gnutls-psk-peer server|client --port N --psk HEX --psk-identity ID [...]");
  opt.server = strcmp(argv[1], "server") == 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--import") == 0) {
      opt.import = 1;
      continue;
    }
    if (!v) fail("usage", a);
    i++;
    if (strcmp(a, "--port") == 0) opt.port = atoi(v);
    else if (strcmp(a, "--psk") == 0) parse_hex(v);
    else if (strcmp(a, "--psk-identity") == 0) opt.identity = v;
    else if (strcmp(a, "--context") == 0) opt.context = v;
    else if (strcmp(a, "--hash") == 0) opt.hash = v;
    else if (strcmp(a, "--priority") == 0) opt.priority = v;
    else if (strcmp(a, "--naccept") == 0) opt.naccept = atoi(v);
    else fail("usage", a);
  }
  if (!opt.port || !opt.psk_len || !opt.identity) fail("usage", "--port, --psk and --psk-identity are required");
  mac_of();
  check(gnutls_global_init(), "gnutls_global_init");
  if (opt.server) serve();
  else client();
  gnutls_global_deinit();
  return 0;
}
