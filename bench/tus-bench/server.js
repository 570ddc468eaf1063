#!/usr/bin/env node
// The peer of bench/tus: @tus/server with @tus/file-store (both pinned in
// package-lock.json), as its README sets it up, on 127.0.0.1:PORT.
//
//   node server.js --port PORT --dir DIRECTORY [--max-size BYTES]
//
// Uploads are stored in DIRECTORY (the data file and a .json info file per
// upload).  FileStore writes with fs.createWriteStream and never fsyncs; the
// offset of an upload is the size of its data file.  Prints "ready" on
// stdout once it listens; stops on SIGTERM/SIGINT.
'use strict';

const http = require('node:http');

function args() {
  const out = {};
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    if (!a[i].startsWith('--') || i + 1 >= a.length) {
      throw new Error('bad argument ' + a[i]);
    }
    out[a[i].slice(2)] = a[i + 1];
  }
  for (const k of ['port', 'dir']) {
    if (!out[k]) {
      throw new Error('--' + k + ' is required');
    }
  }
  return out;
}

async function main() {
  const o = args();
  // both packages are ES modules
  const { Server } = await import('@tus/server');
  const { FileStore } = await import('@tus/file-store');
  const tusServer = new Server({
    path: '/files',
    datastore: new FileStore({ directory: o.dir }),
    // the same limit as mod_pool's default PoolMaxFileSize (1G)
    maxSize: Number(o['max-size'] || 1024 * 1024 * 1024),
  });
  const server = http.createServer((req, res) => tusServer.handle(req, res));
  server.keepAliveTimeout = 60000;
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  server.listen({ host: '127.0.0.1', port: Number(o.port) }, () => {
    process.stdout.write('ready\n');
  });
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
