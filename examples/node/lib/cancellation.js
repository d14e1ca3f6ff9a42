'use strict';
// The cancellation pattern shared by both servers: an AbortController per request, aborted when the response's
// 'close' fires before the response finished, that is when the connection went away (tether closed or reset it
// because its client left). Its signal goes to everything the handler starts: timers, fetch, database drivers.
//
// Why `res` and not `req`: since Node 16, `req` emits 'close' as soon as the request body has been read (at once for
// a GET), client still there; `res` emits 'close' when the response is done or the socket closed, and
// `res.writableFinished` tells the two apart.

function log(line) {
  // UTC with milliseconds, as in tether's log, so the two can be lined up.
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

// The request id tether forwards in X-Request-Id (the client's own, or one tether generated).
function requestId(req) {
  return req.headers['x-request-id'] || '-';
}

// An AbortSignal that fires when the client (through tether) left before the response was sent.
function requestSignal(req, res) {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new DOMException('client closed the connection', 'AbortError'));
  });
  return controller.signal;
}

// Runs `work(signal)` for one request and logs its started / cancelled / completed lines; `work` resolves to the
// response body. A rejection while the signal is aborted is the cancellation, not an error to answer.
async function observed(req, res, work) {
  const id = requestId(req);
  const path = new URL(req.url, 'http://x').pathname;
  const start = Date.now();
  const signal = requestSignal(req, res);
  log(`request started id=${id} path=${path} proto=http/${req.httpVersion}`);
  try {
    const body = await work(signal, id);
    res.end(body);
    log(`request completed id=${id} path=${path} elapsed_ms=${Date.now() - start}`);
  } catch (err) {
    if (signal.aborted) {
      log(`request cancelled id=${id} path=${path} elapsed_ms=${Date.now() - start} cause=${signal.reason.message}`);
      return;
    }
    res.statusCode = 502;
    res.end(`${err.message}\n`);
    log(`request failed id=${id} path=${path} elapsed_ms=${Date.now() - start} err=${err.message}`);
  }
}

module.exports = { log, requestId, requestSignal, observed };
