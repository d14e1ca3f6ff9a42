'use strict';
// The same API on Express 5: the cancellation pattern is node:http's (Express hands handlers the same req and res),
// and Express 5 lets a handler be async. Same endpoints and log lines as http-server.js.
const express = require('express');
const { log, observed } = require('./lib/cancellation');
const { durationParam, slow, cpu, downstream } = require('./lib/work');
const { parseOptions } = require('./lib/options');

const options = parseOptions(process.argv.slice(2), 8083);
let base = options.downstream;

const app = express();
app.get('/slow', (req, res) => observed(req, res, (signal) => slow(durationParam(req, 60000), signal)));
app.get('/cpu', (req, res) => observed(req, res, (signal) => cpu(durationParam(req, 60000), signal)));
app.get('/downstream', (req, res) =>
  observed(req, res, (signal, id) => downstream(base, durationParam(req, 60000), id, signal)));
app.get('/fast', (req, res) => observed(req, res, async () => 'fast\n'));

const server = app.listen(options.port, options.host, () => {
  const { port } = server.address();
  if (!base) base = `http://127.0.0.1:${port}`;
  log(`listening ${port}`);
});
