// Makes a job component of a JavaScript module with componentize-js's library
// API: `node componentize.mjs SOURCE.js WIT_DIR OUT.wasm`.
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';

const [sourcePath, witPath, out] = process.argv.slice(2);
const { component } = await componentize({
  sourcePath,
  witPath,
  worldName: 'job',
  // A job needs stdio, clocks and random at most; no HTTP.
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(out, component);
