/**
 * The three members of the demo alliance: two marketplaces and one brand rights holder. Names and
 * brands are fictional.
 */
import type { MemberKind } from '../membership/types.ts';

export interface DemoMember {
  /** Member id in the roster, and the name of its data directory under the demo directory. */
  id: string;
  name: string;
  kind: MemberKind;
  country: string;
  /** Prefix of the external case ids of its records. */
  casePrefix: string;
  /** Brands its records name: a rights holder records infringements of its own brands. */
  brands: readonly string[];
}

/** Every fictional brand the marketplaces see counterfeited. */
export const DEMO_BRANDS = [
  'Aurelia',
  'Velmora',
  'Kestrel Outdoor',
  'Nordhaven',
  'Lumio Audio',
  'Orrin & Vale',
  'Solenne',
  'Tessaro',
  'Halcyon Watches',
  'Brightwater Kids',
] as const;

export const DEMO_MEMBERS: readonly DemoMember[] = [
  { id: 'bazaarly', name: 'Bazaarly Marketplace', kind: 'PLATFORM', country: 'US', casePrefix: 'BZ', brands: DEMO_BRANDS },
  { id: 'marketnest', name: 'Marketnest', kind: 'PLATFORM', country: 'GB', casePrefix: 'MN', brands: DEMO_BRANDS },
  { id: 'aurelia', name: 'Aurelia Maison (brand protection)', kind: 'RIGHTS_HOLDER', country: 'IT', casePrefix: 'AUR', brands: ['Aurelia', 'Velmora', 'Aurelia Sport'] },
];
