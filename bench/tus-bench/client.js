#!/usr/bin/env node
// The one client of bench/tus, used unchanged against both servers:
// tus-js-client (pinned in package-lock.json) uploading FILES copies of one
// file on disk with CONC uploads in flight at a time, in CHUNK-byte PATCHes.
//
//   node client.js --endpoint URL --file PATH --files N --conc C
//        --chunk BYTES --label TAG --lat FILE [--token TOKEN]
//
// The two servers differ only in --endpoint and --token (sent as
// "Authorization: Bearer TOKEN"; without it no Authorization header).
// Every upload is a POST (creation) and then PATCHes; nothing is retried: a
// failed request fails its upload, and the run reports it.
//
// Appends one line per request to --lat: "KIND MS STATUS START", KIND being
// post, patch0 (the PATCH at offset 0) or patchN (a later one, the last of
// which completes the upload); MS from tus-js-client's onBeforeRequest to
// its onAfterResponse (the whole body sent and the response read); START
// when it began, in ms since the start of the run.
// Prints one JSON line: {label, files, ok, failed, bytes, seconds,
// fileIds, cpu, errors}; "seconds" is the wall time from the first request
// to the last answer; fileIds counts final answers that carried
// Pool-File-Id; cpu is this process's CPU time (user + system, seconds).
'use strict';

const fs = require('node:fs');
const { performance } = require('node:perf_hooks');
const tus = require('tus-js-client');

function args() {
  const out = {};
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    if (!a[i].startsWith('--') || i + 1 >= a.length) {
      throw new Error('bad argument ' + a[i]);
    }
    out[a[i].slice(2)] = a[i + 1];
  }
  for (const k of ['endpoint', 'file', 'files', 'conc', 'chunk', 'label', 'lat']) {
    if (!out[k]) {
      throw new Error('--' + k + ' is required');
    }
  }
  return out;
}

async function main() {
  const o = args();
  const nfiles = Number(o.files);
  const conc = Number(o.conc);
  const chunk = Number(o.chunk);
  const size = fs.statSync(o.file).size;
  const lines = [];
  const errors = [];
  let next = 0;
  let ok = 0;
  let fileIds = 0;
  let start = 0;

  function uploadOne(i) {
    return new Promise((resolve) => {
      const t0 = new WeakMap();
      const upload = new tus.Upload(fs.createReadStream(o.file), {
        endpoint: o.endpoint,
        headers: o.token ? { Authorization: 'Bearer ' + o.token } : {},
        chunkSize: chunk,
        metadata: {
          filename: o.label + '-' + String(i).padStart(4, '0') + '.bin',
          filetype: 'application/octet-stream',
        },
        retryDelays: null,
        onBeforeRequest(req) {
          t0.set(req, performance.now());
        },
        onAfterResponse(req, res) {
          const ms = performance.now() - t0.get(req);
          const m = req.getMethod();
          let kind = m.toLowerCase();
          if (m === 'PATCH') {
            kind = req.getHeader('Upload-Offset') === '0' ? 'patch0' : 'patchN';
            if (res.getHeader('Pool-File-Id')) {
              fileIds++;
            }
          }
          lines.push(kind + ' ' + ms.toFixed(3) + ' ' + res.getStatus() + ' '
                     + (t0.get(req) - start).toFixed(1));
        },
        onSuccess() {
          ok++;
          resolve();
        },
        onError(err) {
          errors.push(String(err && err.message || err).slice(0, 300));
          resolve();
        },
      });
      upload.start();
    });
  }

  async function worker() {
    while (next < nfiles) {
      const i = next++;
      await uploadOne(i);
    }
  }

  start = performance.now();
  const workers = [];
  for (let w = 0; w < Math.min(conc, nfiles); w++) {
    workers.push(worker());
  }
  await Promise.all(workers);
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage();
  fs.appendFileSync(o.lat, lines.length ? lines.join('\n') + '\n' : '');
  process.stdout.write(JSON.stringify({
    label: o.label,
    files: nfiles,
    ok,
    failed: nfiles - ok,
    bytes: ok * size,
    seconds: Number(seconds.toFixed(3)),
    fileIds,
    cpu: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
    errors: errors.slice(0, 5),
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
