// A small HTTP service written for Type=notify: READY=1 only once it really accepts connections,
// a live STATUS=, and STOPPING=1 once, when it really shuts down.
// Run it as a real unit:  systemd-run --unit=hello -p Type=notify node "$PWD/examples/service.js"
'use strict';
const http = require('node:http');
const { ready, status, stopping } = require('..'); // in your code: require('sdnotify')

let served = 0;
const server = http.createServer((req, res) => {
  served += 1;
  res.end(`hello #${served}\n`);
  const requests = `${served} request${served === 1 ? '' : 's'}`;
  status(`Serving on port ${server.address().port}: ${requests} so far`);
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  // false means "not under systemd": the same code runs anywhere.
  const supervised = ready(`Serving on port ${server.address().port}`);
  if (!supervised)
    console.log(`listening on http://127.0.0.1:${server.address().port} (not under systemd)`);
});

process.once('SIGTERM', () => {
  stopping(`Shutting down after ${served} requests`);
  server.close(() => process.exit(0));
});
