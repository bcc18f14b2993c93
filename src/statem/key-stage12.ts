/**
 * TLS 1.2's key stage (RFC 5246 6.3 and 8.1, RFC 7627): the master secret — the extended
 * one, from the pre-master secret and the session hash, or a resumed session's — and the
 * key block made from it with this handshake's randoms. The handshake keeps it as data
 * (`tls12Keys`): the states that change keys, finish or make a session say they need it.
 * Once the handshake is over the key block goes (the record layer has the keys) and the
 * master secret stays, for the exporter.
 */
import { aeadKeyLength } from '../crypto/keyschedule.js';
import { keyBlock, type KeyBlock } from '../crypto/prf.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { internalError } from '../errors.js';
import type { CipherSuiteInfo } from '../messages/constants.js';
import type { Side } from './declare.js';

export class Tls12KeyStage {
  private block: KeyBlock | undefined;

  constructor(
    provider: CryptoProvider,
    suite: CipherSuiteInfo,
    readonly master: Uint8Array,
    clientRandom: Uint8Array,
    serverRandom: Uint8Array,
  ) {
    // GCM and CCM take a 4-byte implicit IV (the rest is explicit per record); ChaCha20-Poly1305 a 12-byte one.
    const ivLength = suite.aead === 'CHACHA20-POLY1305' ? 12 : 4;
    this.block = keyBlock(provider, suite.hash, master, clientRandom, serverRandom, aeadKeyLength[suite.aead], ivLength);
  }

  /** The key and IV `sender` writes with. */
  keysOf(sender: Side): { key: Uint8Array; iv: Uint8Array } {
    const b = this.block;
    if (!b) throw internalError('TLS 1.2 keys asked for after the handshake');
    return sender === 'client' ? { key: b.clientKey, iv: b.clientIv } : { key: b.serverKey, iv: b.serverIv };
  }

  /** The handshake is over: the record layer has its keys, the key block goes. */
  dropKeyBlock(): void {
    this.block = undefined;
  }
}
