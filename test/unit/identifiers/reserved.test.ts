/**
 * Reserved domain names (RFC 2606, RFC 6761, and .local of RFC 6762): one rule for every type that
 * holds a host name (schema/identifiers.md, "Reserved names"). `example` and `test` exist for
 * documentation and testing and are accepted like any top-level domain, so an example or test value
 * works in every type; `invalid`, `localhost` and `local` can never name anyone on the Internet and
 * are refused in every type with `<type>.reserved_name`.
 */
import { describe, expect, it } from 'vitest';
import { normalize, NormalizeError } from '../../../node/identifiers/normalize.ts';
import type { IdentifierType } from '../../../node/identifiers/vocabulary.ts';

/** How each type that holds a host writes one under `host`, and the canonical form it should give. */
const HOLDERS: Array<{ type: IdentifierType; value: (host: string) => string; canonical: (host: string) => string }> = [
  { type: 'email', value: (h) => `Sales@${h}`, canonical: (h) => `sales@${h}` },
  { type: 'url', value: (h) => `https://${h}/1`, canonical: (h) => `https://${h}/1` },
  { type: 'domain', value: (h) => `shop.${h}`, canonical: (h) => h },
  { type: 'payment_account', value: (h) => `paypal:Sales@${h}`, canonical: (h) => `paypal:sales@${h}` },
];

function refusal(type: IdentifierType, value: string): NormalizeError | undefined {
  try {
    normalize(type, value);
    return undefined;
  } catch (err) {
    if (err instanceof NormalizeError) return err;
    throw err;
  }
}

const reason = (type: IdentifierType, value: string) => refusal(type, value)?.reason;

describe('reserved domain names, one rule across types', () => {
  for (const tld of ['example', 'test']) {
    for (const h of HOLDERS) {
      it(`${h.type}: a name under .${tld} is accepted like any top-level domain`, () => {
        const host = `fakewatch.${tld}`;
        expect(normalize(h.type, h.value(host))).toBe(h.canonical(host));
      });
    }
  }

  it('the values of the report: sales@fakewatch.example and https://shop.example/1 are both accepted', () => {
    expect(normalize('email', 'sales@fakewatch.example')).toBe('sales@fakewatch.example');
    expect(normalize('url', 'https://shop.example/1')).toBe('https://shop.example/1');
  });

  for (const tld of ['invalid', 'localhost', 'local']) {
    for (const h of HOLDERS) {
      it(`${h.type}: a name under .${tld} is refused as reserved`, () => {
        const err = refusal(h.type, h.value(`fakewatch.${tld}`));
        // A PayPal account is an email address: its refusal is the email's, inside bad_email.
        expect(err?.reason).toBe(h.type === 'payment_account' ? 'payment_account.bad_email' : `${h.type}.reserved_name`);
        expect(err?.message).toContain(`".${tld}" is a reserved name`);
      });
    }
  }

  it('case and a trailing dot change nothing', () => {
    expect(reason('url', 'http://App.LOCALHOST./x')).toBe('url.reserved_name');
    expect(normalize('email', 'a@Shop.EXAMPLE.')).toBe('a@shop.example');
    expect(reason('domain', 'x.INVALID')).toBe('domain.reserved_name');
  });

  it('names that merely contain a reserved word are ordinary names', () => {
    expect(normalize('domain', 'example.com')).toBe('example.com');
    expect(normalize('email', 'a@test.de')).toBe('a@test.de');
    expect(normalize('url', 'https://localhost.com/x')).toBe('https://localhost.com/x');
    expect(reason('email', 'a@shop.exampl')).toBe('email.unknown_tld');
  });
});
