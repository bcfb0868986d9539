import { UsageError } from './command.ts';

/** Parses HOST:PORT (IPv6 in brackets) with a clear message for each way it can be wrong. */
export function parseHostPort(flag: string, value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value);
  if (!match) throw new UsageError(`${flag} expects HOST:PORT, got '${value}'`);
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`${flag}: port must be 0-65535, got ${match[2]}`);
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

export function parseIntFlag(flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw new UsageError(`${flag} expects an integer, got '${value}'`);
  const n = Number(value);
  if (n < min) throw new UsageError(`${flag} must be at least ${min}, got ${n}`);
  return n;
}

/** An http(s) URL flag, without trailing slashes; undefined stays undefined (the flag was not given). */
export function parseHttpUrl(flag: string, value: string): string;
export function parseHttpUrl(flag: string, value: string | undefined): string | undefined;
export function parseHttpUrl(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new UsageError(`${flag} expects an http:// or https:// URL such as http://127.0.0.1:8123, got '${value}'`);
  return value.replace(/\/+$/, '');
}
