'use strict';
// The API on node:http alone. Same endpoints and log lines as examples/go (README.md):
//   /slow?ms=N  /cpu?ms=N  /downstream?ms=N  /fast
const http = require('node:http');
const { log, observed } = require('./lib/cancellation');
const { durationParam, slow, cpu, downstream } = require('./lib/work');
const { parseOptions } = require('./lib/options');

const options = parseOptions(process.argv.slice(2), 8082);
let base = options.downstream;

const server = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  const ms = durationParam(req, 60000);
  switch (path) {
    case '/slow': return observed(req, res, (signal) => slow(ms, signal));
    case '/cpu': return observed(req, res, (signal) => cpu(ms, signal));
    case '/downstream': return observed(req, res, (signal, id) => downstream(base, ms, id, signal));
    case '/fast': return observed(req, res, async () => 'fast\n');
    default:
      res.statusCode = 404;
      return res.end('not found\n');
  }
});

server.listen(options.port, options.host, () => {
  const { port } = server.address();
  if (!base) base = `http://127.0.0.1:${port}`;
  log(`listening ${port}`);
});
