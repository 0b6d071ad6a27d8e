import { createHash, randomBytes } from 'node:crypto';

/** Every secret starts with this, so leaked keys are easy to recognise (and to scan for). */
export const SECRET_PREFIX = 'sk_';
/** Random base62 characters after the prefix: 32 × log2(62) ≈ 190 bits. */
export const SECRET_RANDOM_LENGTH = 32;
/** Characters of the secret kept for display (`sk_` + 8): identifies a key, proves nothing. */
export const DISPLAY_PREFIX_LENGTH = SECRET_PREFIX.length + 8;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SECRET_RE = new RegExp(`^${SECRET_PREFIX}[0-9A-Za-z]{${SECRET_RANDOM_LENGTH}}$`);

/**
 * A new secret: `sk_` + 32 characters drawn uniformly from base62 (rejection sampling: a byte
 * is used only below 248 = 4 × 62, so no character is more likely than another).
 */
export function generateSecret(random: (size: number) => Buffer = randomBytes): string {
  let out = SECRET_PREFIX;
  while (out.length < SECRET_PREFIX.length + SECRET_RANDOM_LENGTH) {
    for (const byte of random(48)) {
      if (byte >= 248) continue;
      out += BASE62[byte % 62];
      if (out.length === SECRET_PREFIX.length + SECRET_RANDOM_LENGTH) break;
    }
  }
  return out;
}

/** Whether `value` has the form of a secret (checked before any lookup). */
export function isWellFormedSecret(value: string): boolean {
  return SECRET_RE.test(value);
}

/** Lowercase hex sha256 of the secret: the only form stored. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The display prefix of a secret (`sk_AbCd1234`). */
export function displayPrefix(secret: string): string {
  return secret.slice(0, DISPLAY_PREFIX_LENGTH);
}
