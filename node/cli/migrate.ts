import type { Command } from './command.ts';
import { configFrom, STORAGE_OPTIONS, STORAGE_USAGE } from './options.ts';

export const migrateCommand: Command = {
  summary: 'apply pending database migrations (also done by start)',
  usage: `Usage: alliance migrate [options]

Applies the SQL migrations not yet applied, in order, in one transaction. Safe to run twice and from
several processes at once.

Options:
${STORAGE_USAGE}`,
  options: { ...STORAGE_OPTIONS },
  async run(values) {
    const config = configFrom(values);
    const { openStorage } = await import('../storage/open.ts');
    const { migrate } = await import('../storage/migrate.ts');
    const db = await openStorage(config, { migrate: false });
    try {
      const result = await migrate(db);
      process.stdout.write(
        result.applied.length ? `applied migrations ${result.applied.join(', ')}; schema at ${result.current}\n` : `schema up to date at ${result.current}\n`,
      );
    } finally {
      await db.close();
    }
    return 0;
  },
};
