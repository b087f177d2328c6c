// The handshake a remote manager and its client go through before either
// reads anything else: each proves to the other that it knows the authkey,
// after CPython's multiprocessing/connection.py (deliver_challenge and
// answer_challenge):
//
//   challenger -> "#CHALLENGE#{sha256}" + 40 random bytes     (the message)
//   answerer   -> "{sha256}" + HMAC-SHA256(authkey, role + message)
//   challenger -> "#WELCOME#" or "#FAILURE#"
//
// The server challenges first, then the client challenges the server. One
// change from CPython: the answerer's role ("multiproc-client:" or
// "multiproc-server:") is inside the MAC. Without it a fake server that
// knows no key could send a client's challenge back to it as its own on a
// second connection and relay the answer (a reflection CPython's scheme
// allows). The digest's name is inside the MAC'd message too (only sha256
// is accepted), MACs are compared in constant time, and every read before
// the end of the handshake is one frame of at most AUTH_FRAME bytes
// (frames.ts refuses longer ones unread).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuthenticationError } from '../base/errors';
import type { Framed } from './frames';

/** The longest frame either side reads before authentication (CPython: 256). */
export const AUTH_FRAME = 256;
const CHALLENGE = Buffer.from('#CHALLENGE#');
const WELCOME = Buffer.from('#WELCOME#');
const FAILURE = Buffer.from('#FAILURE#');
const DIGEST = Buffer.from('{sha256}');
const MESSAGE_LENGTH = 40;

/** The authkey as bytes (a string is its UTF-8). */
export function authkeyBytes(key: unknown, what: string): Buffer {
  if (typeof key === 'string' && key.length > 0) return Buffer.from(key, 'utf8');
  if (key instanceof Uint8Array && key.length > 0) return Buffer.from(key);
  throw new TypeError(`${what}: the authkey must be a non-empty string or Uint8Array`);
}

/** Who answers a challenge: what its MAC is bound to. */
export type Role = 'client' | 'server';

/** The answer of `role` to `message`. */
export const mac = (authkey: Buffer, role: Role, message: Buffer): Buffer =>
  Buffer.concat([DIGEST, createHmac('sha256', authkey).update(`multiproc-${role}:`).update(message).digest()]);

/** Proves that the peer (of role `peer`) knows the key: throws AuthenticationError (after telling the peer) if it does not. */
export async function deliverChallenge(framed: Framed, authkey: Buffer, peer: Role, timeoutMs: number): Promise<void> {
  const message = Buffer.concat([DIGEST, randomBytes(MESSAGE_LENGTH)]);
  framed.send(Buffer.concat([CHALLENGE, message]));
  const response = await framed.next(timeoutMs);
  const expected = mac(authkey, peer, message);
  if (response.length !== expected.length || !timingSafeEqual(response, expected)) {
    framed.send(FAILURE);
    throw new AuthenticationError(
      response.subarray(0, DIGEST.length).equals(DIGEST)
        ? 'the peer answered with a wrong digest (another authkey)'
        : 'the peer did not answer the challenge',
    );
  }
  framed.send(WELCOME);
}

/** Proves to the peer that this side (of role `self`) knows the key: throws AuthenticationError if the peer refuses it. */
export async function answerChallenge(framed: Framed, authkey: Buffer, self: Role, timeoutMs: number): Promise<void> {
  const challenge = await framed.next(timeoutMs);
  if (challenge.length !== CHALLENGE.length + DIGEST.length + MESSAGE_LENGTH || !challenge.subarray(0, CHALLENGE.length).equals(CHALLENGE))
    throw new AuthenticationError('the peer sent no challenge (not a multiproc manager?)');
  const message = challenge.subarray(CHALLENGE.length);
  if (!message.subarray(0, DIGEST.length).equals(DIGEST)) throw new AuthenticationError('the peer asked for a digest other than sha256');
  framed.send(mac(authkey, self, message));
  const verdict = await framed.next(timeoutMs);
  if (!verdict.equals(WELCOME)) throw new AuthenticationError('the authkey was refused (the manager has another one)');
}
