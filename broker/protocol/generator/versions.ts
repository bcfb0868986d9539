/** A version range from Kafka's message definitions: "3", "0-4", "9+" or "none". max is Infinity for "+". */
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

/** The part of `r` inside `within`. */
export function intersect(r: VersionRange, within: VersionRange): VersionRange {
  return { min: Math.max(r.min, within.min), max: Math.min(r.max, within.max) };
}

export function covers(r: VersionRange, within: VersionRange): boolean {
  return r.min <= within.min && r.max >= within.max;
}

/**
 * A TypeScript condition testing `v` against `r`, simplified using the versions the code can see
 * (`within`): "true", "false", "v >= 3", "v <= 2" or "v >= 1 && v <= 4".
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
