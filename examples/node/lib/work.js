'use strict';
// The work behind the endpoints, each taking the request's AbortSignal.
const { setTimeout: sleep, setImmediate: yieldToEventLoop } = require('node:timers/promises');
const { log } = require('./cancellation');

function durationParam(req, fallbackMs) {
  const ms = Number.parseInt(new URL(req.url, 'http://x').searchParams.get('ms'), 10);
  return Number.isInteger(ms) && ms >= 0 ? ms : fallbackMs;
}

// I/O-bound work (a query, a call): anything that takes the signal rejects with an AbortError when it fires.
async function slow(ms, signal) {
  await sleep(ms, undefined, { signal });
  return 'slow done\n';
}

// CPU-bound work. A synchronous loop blocks the event loop, and 'close' can only fire between turns of it: work in
// slices, yield after each (setImmediate), and check the signal.
async function cpu(ms, signal) {
  const deadline = Date.now() + ms;
  let sum = 0;
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    for (let i = 0; i < 100000; i++) sum = (sum + i * i) % 1000000007;
    await yieldToEventLoop();
  }
  return `cpu done ${sum}\n`;
}

// An outgoing call that carries the request's signal: aborting it closes the outgoing connection, so the
// downstream service sees the cancellation in turn.
async function downstream(baseUrl, ms, id, signal) {
  const start = Date.now();
  try {
    const response = await fetch(`${baseUrl}/slow?ms=${ms}`, { signal, headers: { 'x-request-id': `${id}-downstream` } });
    return await response.text();
  } catch (err) {
    if (signal.aborted) log(`downstream cancelled id=${id} elapsed_ms=${Date.now() - start} err=${err.name}`);
    throw err;
  }
}

module.exports = { durationParam, slow, cpu, downstream };
