import type { RateLimitDecision } from './sliding-window';

/** The quota policy's name in the headers: one policy, per API key. */
export const RATE_LIMIT_POLICY = 'api-key';

/**
 * Response headers for a decision, in the form of draft-ietf-httpapi-ratelimit-headers-11
 * (May 2026, https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/11/): the
 * combined `RateLimit` (available quota `r`, effective window `t` in seconds) and
 * `RateLimit-Policy` (quota `q` per window `w` in seconds), both Structured Field Lists whose
 * items are the policy name as an sf-string. The earlier drafts' separate
 * `RateLimit-Limit/-Remaining/-Reset` fields were dropped from the draft in -07 and are not sent.
 * A refusal also gets `Retry-After` (set by the error filter), equal to `t`, so it never points
 * before the end of the effective window (section 6 of the draft).
 */
export function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
  return {
    'ratelimit-policy': `"${RATE_LIMIT_POLICY}";q=${decision.limit};w=${decision.windowSeconds}`,
    ratelimit: `"${RATE_LIMIT_POLICY}";r=${decision.remaining};t=${decision.resetSeconds}`,
  };
}
