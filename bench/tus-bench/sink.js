#!/usr/bin/env node
// Diagnostic for bench/tus: the least a tus server can do.  POST answers
// 201 with a Location, PATCH reads the body, throws it away and answers 204
// with the new Upload-Offset; nothing is stored, checked or remembered
// beyond the offsets.  Uploading to it measures the client (and loopback
// TCP) alone on this machine: no real server can go faster with this client.
//
//   node sink.js --port PORT
//
// Prints "ready" on stdout once it listens; stops on SIGTERM/SIGINT.
'use strict';

const http = require('node:http');

const a = process.argv.slice(2);
const port = Number(a[0] === '--port' ? a[1] : NaN);
if (!Number.isInteger(port)) {
  process.stderr.write('usage: node sink.js --port PORT\n');
  process.exit(2);
}

const offsets = new Map();
let n = 0;
const server = http.createServer((req, res) => {
  const h = { 'Tus-Resumable': '1.0.0' };
  if (req.method === 'POST') {
    const id = 'u' + (n++);
    offsets.set(id, 0);
    req.resume();
    req.on('end', () => {
      res.writeHead(201, Object.assign(h, { Location: '/files/' + id, 'Upload-Offset': '0' }));
      res.end();
    });
    return;
  }
  if (req.method === 'PATCH') {
    const id = req.url.split('/').pop();
    let off = offsets.get(id) || 0;
    req.on('data', (d) => { off += d.length; });
    req.on('end', () => {
      offsets.set(id, off);
      res.writeHead(204, Object.assign(h, { 'Upload-Offset': String(off) }));
      res.end();
    });
    return;
  }
  req.resume();
  res.writeHead(404, h);
  res.end();
});
server.keepAliveTimeout = 60000;
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
server.listen({ host: '127.0.0.1', port }, () => process.stdout.write('ready\n'));
