import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { BadRequestError, PayloadTooLargeError } from '../http/http-errors';

const MAX_REDIRECTS = 3;

/** Addresses never fetched unless their host is listed literally. */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

/** Loopback, private, link-local, multicast, reserved (IPv4-mapped IPv6 checked as IPv4). Pure. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1], 'ipv4');
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family === 6) return PRIVATE.check(address, 'ipv6');
  return true;
}

export interface HostRule {
  host: string;
  port?: number;
  wildcard: boolean;
}

/** `example.com`, `*.example.com`, `host:8080`, `[::1]:8080`. */
export function parseHostRule(entry: string): HostRule {
  const e = entry.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d+))?$/.exec(e);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : undefined, wildcard: false };
  const m = /^(\*\.)?([^:]+)(?::(\d+))?$/.exec(e);
  if (!m) return { host: e, wildcard: false };
  return { host: m[2], port: m[3] ? Number(m[3]) : undefined, wildcard: m[1] !== undefined };
}

/**
 * Whether a URL's host and port are on the allow-list, and whether the match is literal (the
 * host named exactly, not through a wildcard): only literal entries may reach private
 * addresses. Pure.
 */
export function matchHost(
  url: URL,
  rules: readonly HostRule[],
): { allowed: boolean; literal: boolean } {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  let allowed = false;
  let literal = false;
  for (const rule of rules) {
    if (rule.port !== undefined && rule.port !== port) continue;
    if (!rule.wildcard && rule.host === host) {
      allowed = true;
      literal = true;
    } else if (rule.wildcard && (host === rule.host || host.endsWith(`.${rule.host}`))) {
      allowed = true;
    }
  }
  return { allowed, literal };
}

export interface ImageUrlFetcherOptions {
  allowedHosts: readonly string[];
  maxBytes: number;
  timeoutMs: number;
}

/**
 * Downloads images for `{type: "url"}` requests, refusing anything not on
 * IMAGE_URL_ALLOWED_HOSTS (empty = all refused). The address is checked at connect time (the
 * socket's own DNS lookup), so a name that resolves to a private or loopback address is refused
 * unless the host is listed literally, and DNS rebinding between check and connect cannot slip
 * through. Redirects are followed (at most 3), each target checked the same way. Size and time
 * are bounded.
 */
export class ImageUrlFetcher {
  private readonly rules: HostRule[];

  constructor(private readonly options: ImageUrlFetcherOptions) {
    this.rules = options.allowedHosts.map(parseHostRule);
  }

  async fetch(raw: string): Promise<Buffer> {
    const deadline = Date.now() + this.options.timeoutMs;
    let url = this.check(raw);
    for (let hop = 0; ; hop++) {
      const result = await this.get(url, deadline);
      if (result.redirect === undefined) return result.body as Buffer;
      if (hop >= MAX_REDIRECTS) throw new BadRequestError('the image URL redirects too often');
      url = this.check(new URL(result.redirect, url).toString());
    }
  }

  private check(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new BadRequestError('image.value is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new BadRequestError('image URLs must be http or https');
    }
    if (url.username || url.password)
      throw new BadRequestError('image URLs may not carry credentials');
    if (this.rules.length === 0) {
      throw new BadRequestError(
        'images by URL are disabled on this gateway (IMAGE_URL_ALLOWED_HOSTS is empty); send the image as base64 or an upload',
      );
    }
    if (!matchHost(url, this.rules).allowed) {
      throw new BadRequestError(`the host of the image URL (${url.host}) is not on the allow-list`);
    }
    return url;
  }

  private get(url: URL, deadline: number): Promise<{ body?: Buffer; redirect?: string }> {
    const { literal } = matchHost(url, this.rules);
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.reject(this.timeout());
    const lookup = (
      hostname: string,
      options: object,
      callback: (
        err: NodeJS.ErrnoException | null,
        address: string | LookupAddress[],
        family?: number,
      ) => void,
    ) => {
      dnsLookup(hostname, { all: true }, (err, addresses) => {
        if (err) return callback(err, '', 4);
        const usable = addresses.filter((a) => literal || !isPrivateAddress(a.address));
        if (usable.length === 0) {
          const e: NodeJS.ErrnoException = new Error(
            `${hostname} resolves to a private or loopback address`,
          );
          e.code = 'STRATA_PRIVATE_ADDRESS';
          return callback(e, '', 4);
        }
        if ((options as { all?: boolean }).all) return callback(null, usable);
        callback(null, usable[0].address, usable[0].family);
      });
    };
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !literal && isPrivateAddress(host)) {
      return Promise.reject(
        new BadRequestError(`the image URL points at a private or loopback address (${host})`),
      );
    }
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = client.get(
        url,
        { lookup: lookup as never, timeout: remaining, headers: { accept: 'image/*' } },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 300 && status < 400 && res.headers.location) {
            res.resume();
            return resolve({ redirect: res.headers.location });
          }
          if (status !== 200) {
            res.resume();
            return reject(new BadRequestError(`the image URL answered HTTP ${status}`));
          }
          const declared = Number(res.headers['content-length']);
          if (Number.isFinite(declared) && declared > this.options.maxBytes) {
            res.destroy();
            return reject(this.tooLarge());
          }
          const chunks: Buffer[] = [];
          let total = 0;
          res.on('data', (chunk: Buffer) => {
            total += chunk.length;
            if (total > this.options.maxBytes) {
              res.destroy();
              reject(this.tooLarge());
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => resolve({ body: Buffer.concat(chunks) }));
          res.on('error', (err) =>
            reject(new BadRequestError(`the image download failed: ${err.message}`)),
          );
        },
      );
      const timer = setTimeout(() => req.destroy(this.timeout()), remaining);
      req.on('close', () => clearTimeout(timer));
      req.on('timeout', () => req.destroy(this.timeout()));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof BadRequestError || err instanceof PayloadTooLargeError)
          return reject(err);
        if (err.code === 'STRATA_PRIVATE_ADDRESS') {
          return reject(new BadRequestError(`the image URL is refused: ${err.message}`));
        }
        reject(new BadRequestError(`the image URL could not be fetched: ${err.message}`));
      });
    });
  }

  private tooLarge(): PayloadTooLargeError {
    return new PayloadTooLargeError(
      `the image at the URL is larger than ${this.options.maxBytes} bytes`,
    );
  }

  private timeout(): BadRequestError {
    return new BadRequestError(`the image URL did not deliver within ${this.options.timeoutMs} ms`);
  }
}
