'use strict';
// Command line of both servers: [--listen host:port] [--downstream URL]. Port 0: a free port, printed.
function parseOptions(argv, defaultPort) {
  const options = { host: '127.0.0.1', port: defaultPort, downstream: '' };
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--listen') {
      const at = argv[i + 1].lastIndexOf(':');
      options.host = argv[i + 1].slice(0, at);
      options.port = Number(argv[i + 1].slice(at + 1));
    } else if (argv[i] === '--downstream') {
      options.downstream = argv[i + 1];
    } else {
      throw new Error(`unknown option ${argv[i]}`);
    }
  }
  return options;
}

module.exports = { parseOptions };
