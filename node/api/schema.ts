import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse, type DocumentNode } from 'graphql';
import type { Role } from './auth.ts';

export const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));

/** The SDL of every `.graphql` file in `schema/`, base first, as one document. */
export function loadSchemaSdl(dir: string = SCHEMA_DIR): string {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort((a, b) => (a === 'base.graphql' ? -1 : b === 'base.graphql' ? 1 : a.localeCompare(b)));
  return files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
}

/** `Type.field` → roles from its `@auth` directive. */
export type FieldRoles = Map<string, Role[]>;

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

/**
 * Reads the `@auth(roles: [...])` directives of the SDL. Every root field must carry one: a field
 * without it would be open to any token holder by omission, so that is refused at start-up.
 */
export function fieldRolesOf(sdl: string): FieldRoles {
  const doc: DocumentNode = parse(sdl);
  const roles: FieldRoles = new Map();
  const unguarded: string[] = [];
  for (const def of doc.definitions) {
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    for (const field of def.fields ?? []) {
      const key = `${def.name.value}.${field.name.value}`;
      const auth = field.directives?.find((d) => d.name.value === 'auth');
      const arg = auth?.arguments?.find((a) => a.name.value === 'roles');
      if (arg && arg.value.kind === Kind.LIST) {
        roles.set(
          key,
          arg.value.values.map((v) => (v.kind === Kind.ENUM ? (v.value.toLowerCase() as Role) : 'admin')),
        );
      } else if (ROOT_TYPES.has(def.name.value)) {
        unguarded.push(key);
      }
    }
  }
  if (unguarded.length) throw new Error(`schema fields without @auth: ${unguarded.join(', ')}`);
  return roles;
}
