#!/usr/bin/env node
import module from 'node:module';

// Node keeps the compiled (and type-stripped) code of our modules and our dependencies on disk, so a
// command does not compile the same few hundred files again each run: about half of a short
// command's start-up. The cache is keyed by file contents; NODE_DISABLE_COMPILE_CACHE=1 turns it off.
module.enableCompileCache?.();

// Before anything writes: a reader of our output that goes away must not crash the process (stdio.ts).
const { tolerateLostOutput } = await import('./stdio.ts');
tolerateLostOutput();

const { run } = await import('./main.ts');
process.exitCode = await run(process.argv.slice(2));
