/**
 * V8 flags for every Node process the tests start: vitest's workers (vitest.config.ts) and the CLI and
 * helper processes tests spawn (cli.ts, child.ts). They change how code is compiled, never what it
 * does: V8's optimising tier spends some 2 s of CPU compiling PGlite's WebAssembly in every process
 * that opens an embedded database, more than a short-lived test process ever gains back from it.
 */
export const TEST_NODE_FLAGS: string[] = ['--liftoff-only'];
