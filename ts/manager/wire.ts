// What a frame over a manager's socket holds: a request or an answer, as
// JSON text when JSON carries it exactly (small plain data, the common case:
// ~1 us each way instead of ~4 for v8.serialize), else serialize()'s bytes
// (Maps, bigints, proxies inside ...). The first byte says which:
// serialize() starts with 0 or 1 (share/handles.ts), JSON with JSON_TAG.
import { jsonText } from '../messaging/encoding';
import { deserialize, serialize, type Refuse } from '../share/handles';

const JSON_TAG = 2;

/** The message's bytes, with `head` bytes left free in front (for the frame header). */
export function encodeMessage(value: unknown, head: number, where: string, refuse?: Refuse): Buffer {
  const text = jsonText(value);
  if (text !== undefined) {
    const out = Buffer.allocUnsafe(head + 1 + Buffer.byteLength(text));
    out[head] = JSON_TAG;
    out.write(text, head + 1);
    return out;
  }
  const bytes = serialize(value, where, refuse);
  if (head === 0) return bytes;
  const out = Buffer.allocUnsafe(head + bytes.length);
  bytes.copy(out, head);
  return out;
}

export function decodeMessage(bytes: Buffer): unknown {
  if (bytes.length > 0 && bytes[0] === JSON_TAG) return JSON.parse(bytes.toString('utf8', 1));
  return deserialize(bytes);
}
