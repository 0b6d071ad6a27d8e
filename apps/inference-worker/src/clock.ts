/** Injection token: the {@link Clock} of the process (tests inject their own). */
export const CLOCK = Symbol('CLOCK');

export interface Clock {
  /** Unix ms. */
  now(): number;
}

export const SYSTEM_CLOCK: Clock = { now: () => Date.now() };
