import {
  REVOKED_ENTRY,
  decodeVerification,
  encodeVerification,
  parseApiKeyEvent,
  serializeApiKeyEvent,
  type VerifiedApiKey,
} from '../../src';

const HASH = 'a'.repeat(64);
const KEY: VerifiedApiKey = {
  id: '0b8e7a55-2f0c-4c53-9f0e-1b2c3d4e5f60',
  name: 'ci',
  workspace: 'default',
  prefix: 'sk_AbCd1234',
  scopes: ['infer', 'admin'],
  keyHash: HASH,
  rateLimit: 25,
  expiresAt: new Date('2030-01-02T03:04:05.678Z'),
};

describe('cached verifications (the Redis auth entry)', () => {
  it('round-trips a verified key, without its hash in the entry', () => {
    const text = encodeVerification({ ok: true, key: KEY });
    expect(text).not.toContain(HASH);
    expect(text).not.toMatch(/\s/);
    expect(decodeVerification(text, HASH)).toEqual({ ok: true, key: KEY });
    const never = encodeVerification({ ok: true, key: { ...KEY, expiresAt: null } });
    expect(decodeVerification(never, HASH)).toEqual({
      ok: true,
      key: { ...KEY, expiresAt: null },
    });
  });

  it('round-trips refusals; the revoked entry is one', () => {
    for (const reason of ['unknown', 'revoked', 'expired'] as const) {
      expect(decodeVerification(encodeVerification({ ok: false, reason }), HASH)).toEqual({
        ok: false,
        reason,
      });
    }
    expect(decodeVerification(REVOKED_ENTRY, HASH)).toEqual({ ok: false, reason: 'revoked' });
  });

  it('reads anything else as a miss, never an error', () => {
    for (const text of [
      '',
      'garbage',
      'null',
      '[]',
      '{"v":2,"r":"revoked"}',
      '{"v":1,"r":"malformed"}',
      '{"v":1,"k":{"id":"x"}}',
      '{"v":1,"k":{"id":"x","name":"n","workspace":"w","prefix":"p","scopes":"infer","expiresAt":null}}',
      '{"v":1,"k":{"id":"x","name":"n","workspace":"w","prefix":"p","scopes":[],"expiresAt":"2030"}}',
    ]) {
      expect([text, decodeVerification(text, HASH)]).toEqual([text, undefined]);
    }
  });
});

describe('API key events', () => {
  it('serializes and parses key-revoked; ignores every other message', () => {
    const event = { type: 'key-revoked', keyHash: HASH } as const;
    expect(parseApiKeyEvent(serializeApiKeyEvent(event))).toEqual(event);
    for (const message of [
      '{"type":"key-revoked"}',
      '{"type":"key-revoked","keyHash":"ABC"}',
      '{"type":"alias-moved","model":"m"}',
      '{"type":"unload","model":"m"}',
      'nope',
      '7',
    ]) {
      expect(parseApiKeyEvent(message)).toBeUndefined();
    }
  });
});
