#!/usr/bin/env node
// Floodgate's command line. The project is TypeScript run through tsx's loader, so there is no
// build step: register the loader, then hand over to the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../harness/cli/main.ts');
process.exitCode = await main(process.argv);
