import { readFileSync } from 'node:fs';

/**
 * Kafka's message definitions are JSON with `//` comments (a licence header, and notes between fields).
 * Comments are removed outside string literals only, so an `about` text such as "see http://..." survives.
 */
export function stripComments(text: string): string {
  let out = '';
  let inString = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === '"') inString = false;
      i++;
    } else if (c === '"') {
      inString = true;
      out += c;
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Reads one definition file; the error names the file, as JSON.parse alone would not. */
export function readDefinition(path: string): any {
  try {
    return JSON.parse(stripComments(readFileSync(path, 'utf8')));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}
