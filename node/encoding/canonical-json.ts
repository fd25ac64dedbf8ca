/**
 * RFC 8785 (JSON Canonicalization Scheme) for the values the roster carries: objects, arrays,
 * strings, booleans, null and safe integers. Members are sorted by the UTF-16 code units of their
 * names, there is no whitespace, strings are escaped as ECMAScript's JSON.stringify does (which is
 * what RFC 8785 §3.2.2.2 specifies), integers are plain decimals. Refused (TypeError): non-integer
 * or unsafe numbers (the roster has none, and their RFC 8785 form is easy to get wrong across
 * languages), strings with lone surrogates (not I-JSON, RFC 7493), undefined, functions, other
 * objects than plain ones and arrays.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) throw new TypeError('canonical JSON: only integers from -(2^53-1) to 2^53-1');
      return Object.is(value, -0) ? '0' : String(value);
    case 'string':
      if (!value.isWellFormed()) throw new TypeError('canonical JSON: a string holds a lone surrogate');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new TypeError('canonical JSON: only plain objects');
      const keys = Object.keys(value).sort();
      const rec = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const k of keys) {
        if (rec[k] === undefined) continue; // as JSON.stringify: an undefined member is absent
        if (!k.isWellFormed()) throw new TypeError('canonical JSON: a member name holds a lone surrogate');
        parts.push(`${JSON.stringify(k)}:${canonicalJson(rec[k])}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON: cannot encode ${typeof value}`);
  }
}

/** The UTF-8 bytes of {@link canonicalJson}. */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return Buffer.from(canonicalJson(value), 'utf8');
}
