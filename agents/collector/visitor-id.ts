import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Cookieless visitor identity, as Plausible does it: hash(daily salt, site, IP, user agent). The salt for a
 * UTC day is derived from a secret (HMAC of the date), so ids are stable within a day, across collector
 * restarts when the secret is kept in a file, and unlinkable across days. The IP is never stored.
 */
export class VisitorIds {
  private readonly secret: Buffer;

  constructor(secretFile?: string) {
    if (secretFile && existsSync(secretFile)) this.secret = readFileSync(secretFile);
    else {
      this.secret = randomBytes(32);
      if (secretFile) {
        mkdirSync(dirname(secretFile), { recursive: true });
        writeFileSync(secretFile, this.secret, { mode: 0o600 });
      }
    }
  }

  visitorId(site: string, ip: string, userAgent: string, at: number): string {
    const day = new Date(at).toISOString().slice(0, 10);
    const salt = createHmac('sha256', this.secret).update(day).digest();
    return createHash('sha256').update(salt).update(`\u0000${site}\u0000${ip}\u0000${userAgent}`).digest('hex').slice(0, 32);
  }
}
