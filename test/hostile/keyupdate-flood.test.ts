/**
 * A peer that sends post-handshake messages without end (the measured attack: 100,000
 * KeyUpdate(update_requested) in a row) is refused with an alert once over its budget;
 * a peer keying up at a sane rate is not.
 */
import { describe, expect, it } from 'vitest';
import { AlertDescription } from '../../src/errors.js';
import { POST_HANDSHAKE_BURST, POST_HANDSHAKE_RATE } from '../../src/post-handshake-budget.js';
import { utf8, concat } from '../../src/util/bytes.js';
import { makePair } from '../helpers/pair.js';

/** The server's clock is `now`; the client's may be another (the flooder does not care about its own budget). */
function floodingPair(now: () => number, clientNow = now) {
  const p = makePair({ now: clientNow }, { now });
  p.pump();
  expect(p.server.state).toBe('ESTABLISHED');
  return p;
}

describe('KeyUpdate flood', () => {
  it('KeyUpdate(update_requested) after KeyUpdate in one burst is refused with unexpected_message, bounded work', () => {
    const t = Date.now();
    let clientClock = t;
    const p = floodingPair(
      () => t,
      () => (clientClock += 1000),
    );
    const answers: number[] = [];
    p.server.on('message', (dir, msg) => dir === 'send' && msg.type === 'key_update' && answers.push(1));
    // The client's own API makes one record per KeyUpdate, each under the next key: what a flooder sends.
    for (let i = 0; i < 1000 && p.client.state === 'ESTABLISHED'; i++) p.client.keyUpdate(true);
    p.server.feed(p.client.takeOutput());
    expect(p.server.state).toBe('DEAD');
    expect(p.server.error?.alert).toBe('unexpected_message');
    expect(p.server.error?.code).toBe('ERR_TLS_POST_HANDSHAKE_FLOOD');
    // The server answered no more than its budget before refusing the rest.
    expect(answers.length).toBe(POST_HANDSHAKE_BURST);
    // And the client hears why.
    p.client.feed(p.server.takeOutput());
    expect(p.client.error?.description).toBe(AlertDescription.unexpected_message);
    expect(p.client.error?.remote).toBe(true);
  });

  it('a peer keying up at the sustained rate keeps its connection, and data flows', () => {
    let t = Date.now();
    const p = floodingPair(() => t);
    for (let i = 0; i < 4 * POST_HANDSHAKE_BURST; i++) {
      p.client.keyUpdate(true);
      p.pump();
      t += Math.ceil(1000 / POST_HANDSHAKE_RATE);
    }
    expect(p.server.error).toBeUndefined();
    p.client.write(utf8.encode('after many key updates'));
    p.server.write(utf8.encode('and back'));
    p.pump();
    expect(utf8.decode(concat(...p.serverData))).toBe('after many key updates');
    expect(utf8.decode(concat(...p.clientData))).toBe('and back');
  });

  it('the server bounds its own client the same way (NewSessionTicket flood)', () => {
    const t = Date.now();
    const p = makePair({ now: () => t }, { tickets: POST_HANDSHAKE_BURST + 5 });
    p.pump();
    expect(p.client.error?.code).toBe('ERR_TLS_POST_HANDSHAKE_FLOOD');
    expect(p.server.error?.description).toBe(AlertDescription.unexpected_message);
  });
});
