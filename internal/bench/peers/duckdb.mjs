// DuckDB peer for Kiln's benchmark harness (internal/bench).
//
// Usage: KILN_BENCH_NPM=DIR node duckdb.mjs JOB_JSON
//
// DIR is the npm folder holding node_modules/@duckdb/node-api (installed by
// install-peers.sh). JOB_JSON is {"setup":[SQL...],"timed":SQL,"after":[SQL...]}:
// the setup statements run first, then the timed statement, then the after
// statements (checks such as a row count), all in one in-memory database.
// The script prints one JSON line:
// {"version":..,"seconds":..,"timed":ROWS,"after":[ROWS...]}, where seconds
// covers the timed statement only and ROWS are result rows as strings.
import { createRequire } from 'node:module';
import path from 'node:path';

const dir = process.env.KILN_BENCH_NPM;
if (!dir) {
  console.error('duckdb.mjs: KILN_BENCH_NPM is not set');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(dir), 'package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');

const job = JSON.parse(process.argv[2] ?? '{}');
if (typeof job.timed !== 'string') {
  console.error('duckdb.mjs: the job has no "timed" statement');
  process.exit(2);
}

const rowsOf = (reader) => reader.getRows().map((row) => row.map((v) => (v === null ? null : String(v))));

const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
const version = rowsOf(await con.runAndReadAll('SELECT version()'))[0][0];
for (const sql of job.setup ?? []) {
  await con.run(sql);
}
const start = process.hrtime.bigint();
const timed = await con.runAndReadAll(job.timed);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const after = [];
for (const sql of job.after ?? []) {
  after.push(rowsOf(await con.runAndReadAll(sql)));
}
con.closeSync?.();
console.log(JSON.stringify({ version, seconds, timed: rowsOf(timed), after }));
