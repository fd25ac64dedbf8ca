/** What a trust team sends: GraphQL `lookup` of a few identifiers, some stored and some not. */
import { benchIdentifier, type LoadedIndicators } from './indicators.ts';

export const LOOKUP_QUERY = `query Lookup($ids: [IdentifierInput!]!) {
  lookup(identifiers: $ids) {
    results { index type canonical error { reason } matches { member { id name kind } ref categories status confidence firstSeen lastSeen } }
    subjects { member { id } ref identifiers count status confidence }
    hitCount
  }
}`;

export interface LookupInput {
  type: string;
  value: string;
}

/** 2 stored identifiers and 1 unknown one, drawn at random, as users type them. */
export function lookupInputs(loaded: Pick<LoadedIndicators, 'count' | 'storedIdentifier' | 'unknownIdentifier'>): LookupInput[] {
  const pick = (n: number) => {
    const id = benchIdentifier(n);
    return { type: id.type, value: id.value };
  };
  const r = () => Math.floor(Math.random() * loaded.count);
  return [pick(loaded.storedIdentifier(r())), pick(loaded.storedIdentifier(r())), pick(loaded.unknownIdentifier(r()))];
}

/** The POST body of a GraphQL lookup (types as the GraphQL enum spells them). */
export function graphqlLookupBody(inputs: LookupInput[]): string {
  return JSON.stringify({ query: LOOKUP_QUERY, variables: { ids: inputs.map((i) => ({ type: i.type.toUpperCase(), value: i.value })) } });
}
