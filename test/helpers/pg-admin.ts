/** Server for PostgreSQL tests; each test database is created fresh on it and dropped after. */
export const PG_ADMIN_URL = process.env.ALLIANCE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
