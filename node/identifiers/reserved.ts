/**
 * Reserved top-level names, one rule for every type that holds a host name (email, url, domain, and
 * through them PayPal accounts and marketplace pages); schema/identifiers.md, "Reserved names".
 *
 * - `example` and `test` (RFC 2606, RFC 6761 §6.2 and §6.5) exist for documentation and testing:
 *   accepted like any top-level domain, so that the values of examples, tutorials and test data
 *   (`sales@fakewatch.example`, `https://shop.example/1`) work in every type alike. They can never
 *   be anyone's real identifier, so nothing real can match them.
 * - `invalid` and `localhost` (RFC 6761 §6.4 and §6.3) and `local` (RFC 6762, multicast DNS) never
 *   name anyone on the Internet: refused with `<type>.reserved_name`.
 *
 * `example.com`, `example.net` and `example.org` (RFC 2606 §3) are ordinary registered names.
 */

/** Top-level names for documentation and testing: accepted as top-level domains. */
export const DOCUMENTATION_TLDS: ReadonlySet<string> = new Set(['example', 'test']);

/** Top-level names that resolve to nothing public: refused. */
export const UNREACHABLE_TLDS: ReadonlySet<string> = new Set(['invalid', 'localhost', 'local']);

/**
 * How the rule treats `host` (lower-case ASCII, no trailing dot): `documentation`, `unreachable`,
 * or undefined for every other name.
 */
export function reservedName(host: string): 'documentation' | 'unreachable' | undefined {
  const tld = host.slice(host.lastIndexOf('.') + 1);
  if (DOCUMENTATION_TLDS.has(tld)) return 'documentation';
  if (UNREACHABLE_TLDS.has(tld)) return 'unreachable';
  return undefined;
}

/** The message of a refused reserved name. */
export function reservedNameMessage(host: string): string {
  const tld = host.slice(host.lastIndexOf('.') + 1);
  return `".${tld}" is a reserved name (RFC 6761, RFC 6762) that names no one on the Internet`;
}
