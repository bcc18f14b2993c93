import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fetches and builds the interop peers (OpenSSL 4, wolfSSL, GnuTLS where missing) once.
    globalSetup: ['test/peers/global-setup.ts'],
    // Interop tests start real openssl/gnutls processes; give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
