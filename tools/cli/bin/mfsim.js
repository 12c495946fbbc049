#!/usr/bin/env node
'use strict';
// kafkajs 2.2.4 schedules a negative timeout once per process on Node 24; the warning says
// nothing to a user, so only that one is dropped.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning') process.stderr.write(`${warning.name}: ${warning.message}\n`);
});
require('../dist/main.js').main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`mfsim: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 2;
  },
);
