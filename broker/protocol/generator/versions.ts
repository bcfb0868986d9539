/**
 * A version range from Kafka's message definitions: "3", "0-4", "9+" or "none". `max` is Infinity for
 * "+"; an empty range has min > max. Ranges are clipped to the message's valid versions early, so the
 * emitters only ever see finite ones.
 */
export interface VersionRange {
  min: number;
  max: number;
}

export const NO_VERSIONS: VersionRange = { min: 1, max: 0 };

export function parseVersions(spec: string | undefined): VersionRange {
  if (spec === undefined || spec === 'none') return NO_VERSIONS;
  const plus = /^(\d+)\+$/.exec(spec);
  if (plus) return { min: Number(plus[1]), max: Infinity };
  const range = /^(\d+)-(\d+)$/.exec(spec);
  if (range) return { min: Number(range[1]), max: Number(range[2]) };
  if (/^\d+$/.test(spec)) return { min: Number(spec), max: Number(spec) };
  throw new Error(`unparseable version range '${spec}'`);
}

export function isEmpty(r: VersionRange): boolean {
  return r.min > r.max;
}

export function contains(r: VersionRange, v: number): boolean {
  return v >= r.min && v <= r.max;
}

/** The part of `r` inside `within`. */
export function intersect(r: VersionRange, within: VersionRange): VersionRange {
  const x = { min: Math.max(r.min, within.min), max: Math.min(r.max, within.max) };
  return isEmpty(x) ? NO_VERSIONS : x;
}

/** The smallest range holding both (for a common struct used by several fields). */
export function hull(a: VersionRange, b: VersionRange): VersionRange {
  if (isEmpty(a)) return b;
  if (isEmpty(b)) return a;
  return { min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}

/** `r` without `cut`, where `cut` must be empty or a suffix of `r` (how tagged versions relate to versions). */
export function withoutSuffix(r: VersionRange, cut: VersionRange): VersionRange {
  if (isEmpty(cut)) return r;
  if (cut.max !== r.max || cut.min < r.min) throw new Error(`range ${format(cut)} is not a suffix of ${format(r)}`);
  return cut.min === r.min ? NO_VERSIONS : { min: r.min, max: cut.min - 1 };
}

/** Whether `r` includes every version of `within`. */
export function covers(r: VersionRange, within: VersionRange): boolean {
  return isEmpty(within) || (r.min <= within.min && r.max >= within.max);
}

export function format(r: VersionRange): string {
  if (isEmpty(r)) return 'none';
  if (r.max === Infinity) return `${r.min}+`;
  return r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`;
}

/**
 * A TypeScript condition testing `v` against `r`, simplified by what the code already knows (`within`, the
 * versions in which it runs): "true", "false", "v >= 3", "v <= 2", "v === 4" or "v >= 1 && v <= 4".
 */
export function condition(r: VersionRange, within: VersionRange, v = 'v'): string {
  const x = intersect(r, within);
  if (isEmpty(x)) return 'false';
  const lower = x.min > within.min;
  const upper = x.max < within.max;
  if (!lower && !upper) return 'true';
  if (lower && !upper) return `${v} >= ${x.min}`;
  if (!lower && upper) return `${v} <= ${x.max}`;
  return x.min === x.max ? `${v} === ${x.min}` : `${v} >= ${x.min} && ${v} <= ${x.max}`;
}
