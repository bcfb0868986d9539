// What the demo's services log: a few services, each in the format such a service would use (JSON from
// the Node services, plain text from the others), with a realistic mix of levels, an occasional stack
// trace, and the ERROR lines an outage produces (the error burst).

export type LogFormat = 'json' | 'plain';

export interface DemoService {
  name: string;
  format: LogFormat;
}

export const DEMO_SERVICES: readonly DemoService[] = [
  { name: 'checkout', format: 'json' },
  { name: 'api-gateway', format: 'json' },
  { name: 'auth', format: 'plain' },
  { name: 'billing-worker', format: 'plain' },
];

/**
 * The plain-text line layout, `<ISO time> <LEVEL> <message>`, and the regular expression the agent parses it
 * with (named groups `time`, `level`, `msg` are the agent's default field names). `[\s\S]` lets the message
 * span the continuation lines of a stack trace, which the agent joins as one multiline record.
 */
export const PLAIN_LINE_PATTERN = '^(?<time>\\d{4}-\\d{2}-\\d{2}T\\S+)\\s+(?<level>[A-Z]+)\\s+(?<msg>[\\s\\S]*)$';
/** A new plain record starts with a date; anything else (`    at …`) continues the previous one. */
export const PLAIN_RECORD_START = '^\\d{4}-\\d{2}-\\d{2}T';

export type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export type Random = () => number;

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];
const hex = (random: Random, n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');

/** Mostly INFO, some DEBUG and WARN, a few ERROR: roughly what a healthy service logs. */
function baselineLevel(random: Random): Level {
  const r = random();
  if (r < 0.15) return 'DEBUG';
  if (r < 0.85) return 'INFO';
  if (r < 0.97) return 'WARN';
  return 'ERROR';
}

const ROUTES = ['/api/cart', '/api/products', '/api/orders', '/api/search', '/api/users/me', '/api/checkout', '/api/recommendations'];
const USERS = ['u-1042', 'u-2077', 'u-3141', 'u-4200', 'u-5150', 'u-6502', 'u-8086'];

const MESSAGES: Record<string, Record<Level, readonly string[]>> = {
  checkout: {
    DEBUG: ['cart loaded', 'price rules evaluated', 'tax computed'],
    INFO: ['order placed', 'payment authorised', 'cart updated', 'shipping quote returned'],
    WARN: ['payment provider slow', 'coupon rejected: expired', 'inventory low for sku'],
    ERROR: ['payment declined by provider', 'order write failed: deadlock detected'],
  },
  'api-gateway': {
    DEBUG: ['route matched', 'upstream selected'],
    INFO: ['request completed', 'request completed', 'request completed'],
    WARN: ['upstream retry', 'rate limit close for client'],
    ERROR: ['upstream timed out', 'upstream returned 502'],
  },
  auth: {
    DEBUG: ['token cache hit', 'jwks refreshed'],
    INFO: ['login succeeded', 'token issued', 'session refreshed', 'logout'],
    WARN: ['login failed: bad password', 'token near expiry refused'],
    ERROR: ['ldap bind failed', 'signing key unavailable'],
  },
  'billing-worker': {
    DEBUG: ['job picked', 'invoice rendered'],
    INFO: ['invoice sent', 'job done', 'subscription renewed'],
    WARN: ['job retried', 'smtp slow'],
    ERROR: ['job failed', 'invoice generation crashed'],
  },
};

function stackTrace(random: Random, service: string): string[] {
  const err = pick(random, ['TypeError: Cannot read properties of undefined (reading \'id\')', 'Error: connect ECONNREFUSED 10.0.3.17:5432', 'RangeError: Invalid time value']);
  const frames = ['processJob', 'renderInvoice', 'handleRequest', 'withRetry', 'runQuery'];
  const depth = 3 + Math.floor(random() * 4);
  return [err, ...Array.from({ length: depth }, (_, i) => `    at ${pick(random, frames)} (/srv/${service}/src/${pick(random, ['worker', 'db', 'invoice', 'http'])}.js:${10 + i * 7}:${5 + i})`)];
}

/** One JSON log line as pino or a similar logger writes it; errors carry their stack in `err.stack`. */
function jsonLine(random: Random, service: string, level: Level, time: number, message: string, burst: boolean): string {
  const route = pick(random, ROUTES);
  const status = level === 'ERROR' ? pick(random, [500, 502, 503, 504]) : level === 'WARN' ? pick(random, [200, 429, 404]) : 200;
  const fields: Record<string, unknown> = {
    time: new Date(time).toISOString(),
    level: level.toLowerCase(),
    msg: message,
    trace_id: hex(random, 32),
    http: { method: pick(random, ['GET', 'GET', 'GET', 'POST', 'PUT']), route, status_code: status },
    duration_ms: Math.round(level === 'ERROR' ? 1000 + random() * 4000 : 5 + random() * random() * 400),
    user: pick(random, USERS),
  };
  if (level === 'ERROR' && (burst || random() < 0.5)) fields.err = { type: 'Error', message, stack: stackTrace(random, service).join('\n') };
  if (burst) fields.incident = 'payment-provider-outage';
  return JSON.stringify(fields);
}

/** One plain record: a line, plus a stack trace's continuation lines for some errors. */
function plainLines(random: Random, service: string, level: Level, time: number, message: string): string[] {
  const detail = service === 'auth' ? `user=${pick(random, USERS)} ip=203.0.113.${Math.floor(random() * 254) + 1}` : `job_id=${hex(random, 8)} attempt=${1 + Math.floor(random() * 3)}`;
  const head = `${new Date(time).toISOString()} ${level.padEnd(5)} ${message} ${detail}`;
  return level === 'ERROR' && random() < 0.6 ? [head, ...stackTrace(random, service)] : [head];
}

/** The text (one or more lines, each ending in \n) of one log record of `service`. */
export function logRecord(random: Random, service: DemoService, time: number, opts: { level?: Level; burst?: boolean } = {}): { level: Level; text: string } {
  const level = opts.level ?? baselineLevel(random);
  const burst = opts.burst ?? false;
  const message = burst ? 'payment provider unavailable: circuit open' : pick(random, MESSAGES[service.name]?.[level] ?? ['event']);
  const lines = service.format === 'json' ? [jsonLine(random, service.name, level, time, message, burst)] : plainLines(random, service.name, level, time, message);
  return { level, text: lines.map((l) => `${l}\n`).join('') };
}
