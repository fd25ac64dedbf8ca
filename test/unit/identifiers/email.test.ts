import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalize, NormalizeError } from '../../../node/identifiers/normalize.ts';
import { refusal } from '../../helpers/normalize.ts';

const email = (v: string) => normalize('email', v);
const reasonOf = (v: string): string | undefined => refusal('email', v);

/** Plain mailbox names: letters, digits and inner dots/underscores, as real users pick them. */
const localPart = fc.stringMatching(/^[a-z0-9]{1,10}(?:[._][a-z0-9]{1,8}){0,2}$/);
const domains = ['example.com', 'example.co.uk', 'shop.example.de', 'xn--fsqu00a.xn--fiqs8s', '163.com', 'qq.com', 'yahoo.com', 'outlook.com'];
const randomCase = (s: string, flips: boolean[]) => [...s].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c)).join('');
const toFullWidth = (s: string) => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));

describe('email normalisation', () => {
  it('is idempotent and ignores case and surrounding whitespace', () => {
    fc.assert(
      fc.property(localPart, fc.constantFrom(...domains), fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), fc.constantFrom('', ' ', '\t', '\n '), (local, domain, flips, pad) => {
        const plain = email(`${local}@${domain}`);
        const noisy = email(pad + randomCase(`${local}@${domain}`, flips) + pad);
        expect(noisy).toBe(plain);
        expect(email(plain)).toBe(plain);
      }),
      { numRuns: 300 },
    );
  });

  it('reads full-width forms as ASCII', () => {
    fc.assert(
      fc.property(localPart, fc.constantFrom(...domains.filter((d) => !d.startsWith('xn--'))), (local, domain) => {
        expect(email(toFullWidth(`${local}@${domain}`))).toBe(email(`${local}@${domain}`));
      }),
      { numRuns: 100 },
    );
  });

  it('Gmail: dots anywhere and any +tag give the same mailbox; googlemail.com is gmail.com', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z][a-z0-9]{5,20}$/),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }),
        fc.option(fc.stringMatching(/^[a-z0-9]{1,8}$/)),
        fc.constantFrom('gmail.com', 'googlemail.com', 'GMAIL.COM'),
        (name, dots, tag, domain) => {
          const dotted = [...name].map((c, i) => (i > 0 && dots[i % dots.length] ? `.${c}` : c)).join('');
          expect(email(`${dotted}${tag === null ? '' : `+${tag}`}@${domain}`)).toBe(`${name}@gmail.com`);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('Proton: ".", "_" and "-" are transparent and all Proton domains are one namespace', () => {
    for (const v of ['a.b_c-d@protonmail.com', 'abcd@proton.me', 'A-B-C-D+x@pm.me', 'ab_cd@protonmail.ch']) expect(email(v)).toBe('abcd@proton.me');
  });

  it('keeps +tags and dots where the provider does not define them', () => {
    expect(email('a.b+c@example.com')).toBe('a.b+c@example.com');
    expect(email('a.b+c@yahoo.com')).toBe('a.b+c@yahoo.com');
    expect(email('a.b-c@yahoo.com')).toBe('a.b-c@yahoo.com');
    expect(email('a.b+c@outlook.com')).toBe('a.b@outlook.com');
  });

  it('does not merge separate Microsoft domains: hotmail.com and outlook.com are separate mailboxes', () => {
    expect(email('seller@hotmail.com')).not.toBe(email('seller@outlook.com'));
  });

  it('Fastmail subdomain addressing maps to the user', () => {
    expect(email('anything@user.fastmail.com')).toBe('user@fastmail.com');
    expect(email('user+x@fastmail.com')).toBe('user@fastmail.com');
  });

  it('refuses a Gmail address that is nothing but a tag, and one ending in a dot once the tag is gone', () => {
    expect(reasonOf('+tag@gmail.com')).toBe('email.empty_local');
    expect(reasonOf('seller.+tag@outlook.com')).toBe('email.local_dot');
  });

  it('gives the mailbox limits in octets after lower-casing', () => {
    expect(reasonOf(`${'a'.repeat(64)}@example.com`)).toBeUndefined();
    expect(reasonOf(`${'a'.repeat(65)}@example.com`)).toBe('email.local_too_long');
    // "İ" lower-cases to two code points: the limit applies to what is kept.
    expect(reasonOf(`İ${'a'.repeat(62)}@example.com`)).toBe('email.local_too_long');
  });

  it('refuses with an email.* reason and never repeats the address in the message', () => {
    const cases = ['secretname.example.com', 'secretname@exa_mple.com', 'secret,name@example.com', 'secretname@example.invalid', '"secret name"@example.com'];
    for (const v of cases) {
      let err: unknown;
      try {
        email(v);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NormalizeError);
      expect((err as NormalizeError).reason).toMatch(/^email\.[a-z_]+$/);
      expect((err as NormalizeError).message).not.toContain('secret');
    }
  });

  it('either normalises any text to a fixed point or refuses it with a NormalizeError', () => {
    const pieces = ['a', 'B', '.', '+', '-', '_', '@', ' ', '"', '<', '>', 'mailto:', 'gmail.com', 'pm.me', 'example.com', 'xn--', 'ｅ', '＠', 'İ', 'ß', '例子', '[1.2.3.4]'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 10 }), (parts) => {
        let c: string;
        try {
          c = email(parts.join(''));
        } catch (err) {
          expect(err).toBeInstanceOf(NormalizeError);
          return;
        }
        expect(email(c)).toBe(c);
      }),
      { numRuns: 2000 },
    );
  });
});
