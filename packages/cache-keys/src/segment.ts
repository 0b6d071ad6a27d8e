// Identifiers that go into a key are restricted so that no two builders, nor two identifiers of
// one builder, can produce the same string: ':' separates segments and braces mark hash tags.
const SAFE = /^[A-Za-z0-9._@=+-]{1,200}$/;

export class KeySegmentError extends Error {
  constructor(what: string, value: string) {
    super(
      `${what} ${JSON.stringify(value)} cannot be part of a Redis key (allowed: A-Z a-z 0-9 . _ @ = + -, 1–200 chars)`,
    );
    this.name = 'KeySegmentError';
  }
}

export function seg(what: string, value: string | number): string {
  const s = String(value);
  if (!SAFE.test(s)) throw new KeySegmentError(what, s);
  return s;
}

/** `{x}`: Redis Cluster hashes only this part, so keys with the same tag share a slot. */
export function tag(what: string, value: string | number): string {
  return `{${seg(what, value)}}`;
}
