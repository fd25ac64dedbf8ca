import { connection } from './common.ts';
import type { Actor, RawRecordInput, StoredRecord } from '../../records/model.ts';
import { assertRecordId, RecordError, validateRecordInput, validateRecordPatch } from '../../records/model.ts';
import { ValidationError } from '../../errors.ts';
import { importRecords } from '../../records/import.ts';
import { RecordStore, type RecordFilter } from '../../records/store.ts';
import type { Config } from '../../config.ts';
import type { ApiContext } from '../context.ts';

interface PageArgs {
  filter?: RecordFilter | null;
  first?: number | null;
  after?: string | null;
}

function actorOf(ctx: ApiContext): Actor {
  return { sub: ctx.principal.sub, role: ctx.principal.roles.join(',') };
}

/** GraphQL enum values are the upper-case identifier type names. */
export function present(r: StoredRecord) {
  return { ...r, identifiers: r.identifiers.map((i) => ({ type: i.type.toUpperCase(), value: i.value, canonical: i.canonical })) };
}

export function recordResolvers(store: RecordStore, config: Pick<Config, 'limits' | 'defaultRegion'>) {
  const { limits, defaultRegion } = config;
  return {
    Query: {
      async record(_: unknown, args: { id: string }) {
        const r = await store.get(assertRecordId(args.id));
        return r && present(r);
      },
      async records(_: unknown, args: PageArgs) {
        const filter = args.filter ?? {};
        const page = await store.list(filter, args.first ?? 50, args.after);
        return connection(page.records.map((r) => ({ node: present(r), cursor: r.cursor })), page.hasNextPage, args.after, () => store.count(filter));
      },
    },
    Mutation: {
      async createRecord(_: unknown, args: { input: RawRecordInput }, ctx: ApiContext) {
        return present(await store.create(validateRecordInput(args.input, { defaultRegion }), actorOf(ctx)));
      },
      async updateRecord(_: unknown, args: { id: string; input: RawRecordInput; expectedVersion?: number | null }, ctx: ApiContext) {
        const id = assertRecordId(args.id);
        // New identifiers without a new region are read in the region the record already has.
        let region = defaultRegion;
        if (args.input.identifiers != null && args.input.region == null) {
          const current = await store.get(id);
          if (!current) throw new RecordError('NOT_FOUND', `record ${id} does not exist`, { id });
          region = current.region ?? defaultRegion;
        }
        return present(await store.update(id, validateRecordPatch(args.input, { defaultRegion: region }), actorOf(ctx), args.expectedVersion));
      },
      async setRecordStatus(_: unknown, args: { id: string; status: StoredRecord['status']; reason?: string | null }, ctx: ApiContext) {
        return present(await store.setStatus(assertRecordId(args.id), args.status, args.reason ?? null, actorOf(ctx)));
      },
      async deleteRecord(_: unknown, args: { id: string; reason?: string | null }, ctx: ApiContext) {
        const id = assertRecordId(args.id);
        await store.delete(id, args.reason ?? null, actorOf(ctx));
        return { id };
      },
      async importRecords(_: unknown, args: { records: RawRecordInput[]; onInvalid?: 'REJECT' | 'SKIP' | null }, ctx: ApiContext) {
        if (args.records.length === 0) throw new ValidationError([{ field: 'records', message: 'is empty' }]);
        if (args.records.length > limits.importRecords) {
          throw new ValidationError([
            { field: 'records', message: `has ${args.records.length} records; the limit per call is ${limits.importRecords} (use alliance import for files)` },
          ]);
        }
        const onInvalid = args.onInvalid === 'SKIP' ? 'skip' : 'reject';
        const result = await importRecords(store.db, args.records, actorOf(ctx), { onInvalid, defaultRegion });
        if (!result.ok) {
          throw new RecordError('BAD_USER_INPUT', `${result.errors.length} invalid record(s); nothing was imported. First: row ${result.errors[0]!.row}, ${result.errors[0]!.field}: ${result.errors[0]!.message}`, {
            rows: result.errors,
          });
        }
        return { imported: result.ids.length, ids: result.ids, skipped: result.skipped };
      },
    },
    Record: {
      history: (r: StoredRecord) => store.history(r.id),
    },
  };
}
