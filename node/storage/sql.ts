/**
 * SQL helpers shared by the modules that own tables: array parameters written as PostgreSQL array
 * literals, for statements that `unnest` many values at once (batch ingest, matching).
 */

const NEEDS_ESCAPE = /["\\]/;

function arrayElement(v: string | null): string {
  if (v === null) return 'NULL';
  return NEEDS_ESCAPE.test(v) ? `"${v.replace(/["\\]/g, '\\$&')}"` : `"${v}"`;
}

/**
 * A PostgreSQL text[] literal (null elements are NULL), built here rather than by the driver, whose
 * general escaping costs more than the statement's own work at tens of thousands of values. Every
 * element is double-quoted, so an id spelled `NULL` stays a string; the values written on the
 * ingest path (ids, base64url, enum names, days, times) never need an escape, so that case is one join.
 */
export function textArrayLiteral(values: ReadonlyArray<string | null>): string {
  if (values.length === 0) return '{}';
  for (const v of values) if (v === null || NEEDS_ESCAPE.test(v)) return `{${values.map(arrayElement).join(',')}}`;
  return `{"${values.join('","')}"}`;
}

/** A PostgreSQL integer array literal (int2[], int4[], int8[]) of finite integers. */
export function integerArrayLiteral(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}
