import { z } from 'zod';

// Parsers turn one raw environment string into a typed value. Each carries a human-readable
// `form` that appears in error messages and in the generated README table.

export interface Parser<T> {
  readonly form: string;
  readonly schema: z.ZodType<T, string>;
}

function parser<T>(form: string, schema: z.ZodType<T, string>): Parser<T> {
  return { form, schema };
}

export function str(
  opts: { min?: number; pattern?: RegExp; patternForm?: string } = {},
): Parser<string> {
  let s = z.string().min(opts.min ?? 1);
  if (opts.pattern) s = s.regex(opts.pattern);
  return parser(opts.patternForm ?? 'non-empty string', s);
}

export function int(min: number, max: number, unit = ''): Parser<number> {
  const form = `integer ${min}–${max}${unit ? ` (${unit})` : ''}`;
  return parser(
    form,
    z
      .string()
      .regex(/^-?\d+$/)
      .transform(Number)
      .pipe(z.number().int().min(min).max(max)),
  );
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function bool(): Parser<boolean> {
  return parser(
    'true | false',
    z
      .string()
      .refine((v) => TRUE.has(v.toLowerCase()) || FALSE.has(v.toLowerCase()))
      .transform((v) => TRUE.has(v.toLowerCase())),
  );
}

export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
): Parser<T[number]> {
  return parser(values.join(' | '), z.enum(values) as unknown as z.ZodType<T[number], string>);
}

export function url(protocols: readonly string[]): Parser<string> {
  return parser(
    `URL (${protocols.map((p) => `${p}//`).join(', ')})`,
    z.string().refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }),
  );
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** A size in bytes: a plain integer or a number with a unit (`500MB`, `10GiB`). */
export function bytes(): Parser<number> {
  return parser(
    'bytes: integer or with unit (500MB, 10GiB)',
    z
      .string()
      .transform((v, ctx) => {
        const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
        const unit = m ? BYTE_UNITS[m[2].toLowerCase()] : undefined;
        if (!m || unit === undefined) {
          ctx.addIssue({ code: 'custom', message: 'not a size' });
          return z.NEVER;
        }
        return Math.floor(Number(m[1]) * unit);
      })
      .pipe(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)),
  );
}

/** Comma-separated list of items each matching `item`. Empty string = empty list. */
export function list(itemForm: string, item: RegExp): Parser<string[]> {
  return parser(
    `comma-separated ${itemForm}`,
    z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      )
      .pipe(z.array(z.string().regex(item))),
  );
}

/** A decimal number in [min, max]. */
export function decimal(min: number, max: number): Parser<number> {
  return parser(
    `number ${min}–${max}`,
    z
      .string()
      .regex(/^\d+(\.\d+)?$/)
      .transform(Number)
      .pipe(z.number().min(min).max(max)),
  );
}
