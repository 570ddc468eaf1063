#!/usr/bin/env node
// Uploads one file to a tus 1.0.0 server with tus-js-client (pinned in
// package-lock.json), the way a real client does.  Used by
// t/integration/test_tus_interop.py.
//
//   node tus-upload.js --endpoint URL --token TOKEN --file PATH [--name NAME]
//        [--type TYPE] [--chunk BYTES] [--interrupt-at BYTES --store FILE]
//        [--parallel N]
//
// --interrupt-at: the first attempt is cut off (upload.abort(), which drops
// the connection of the request in flight) once that many bytes are sent;
// a second Upload object then finds the upload through its fingerprint in
// the URL storage (FileUrlStorage in --store) and resumes it.
// --parallel N: parallelUploads (partial uploads + a final concatenation).
//
// Prints one JSON line: {url, fileId, fileUrl, interruptedAt, resumedFrom,
// methods (of the resumed attempt)}.
'use strict';

const fs = require('fs');
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
  for (const k of ['endpoint', 'token', 'file']) {
    if (!out[k]) {
      throw new Error('--' + k + ' is required');
    }
  }
  return out;
}

function options(o, extra) {
  // the file is read by path (its size known), so no uploadSize
  return Object.assign({
    endpoint: o.endpoint,
    headers: { Authorization: 'Bearer ' + o.token },
    chunkSize: Number(o.chunk || 5 * 1024 * 1024),
    metadata: {
      filename: o.name || require('path').basename(o.file),
      filetype: o.type || 'application/octet-stream',
    },
    // 409/423 are retried (after a HEAD) as tus-js-client does by default
    retryDelays: [0, 200, 500, 1000, 2000, 3000],
  }, extra);
}

function attempt(o, extra, hooks) {
  return new Promise((resolve, reject) => {
    const methods = [];
    let upload = null;
    let stopped = false;
    upload = new tus.Upload(fs.createReadStream(o.file), options(o, Object.assign({
      onBeforeRequest(req) {
        methods.push(req.getMethod());
      },
      onAfterResponse(req, res) {
        if (hooks.onHead && req.getMethod() === 'HEAD') {
          hooks.onHead(Number(res.getHeader('Upload-Offset')));
        }
      },
      onProgress(sent, total) {
        if (hooks.onProgress && !stopped && hooks.onProgress(sent, total)) {
          stopped = true;
          // drops the connection of the PATCH in flight
          upload.abort(false).then(() => resolve({ aborted: sent, methods }),
                                   reject);
        }
      },
      onSuccess(payload) {
        const res = payload && payload.lastResponse;
        resolve({
          url: upload.url,
          fileId: res ? res.getHeader('Pool-File-Id') : null,
          fileUrl: res ? res.getHeader('Content-Location') : null,
          methods,
        });
      },
      onError(err) {
        reject(err);
      },
    }, extra)));
    if (hooks.resume) {
      upload.findPreviousUploads().then((previous) => {
        if (!previous.length) {
          reject(new Error('no previous upload found in the URL storage'));
          return;
        }
        upload.resumeFromPreviousUpload(previous[0]);
        upload.start();
      }, reject);
    }
    else {
      upload.start();
    }
  });
}

async function main() {
  const o = args();
  const out = { interruptedAt: null, resumedFrom: null };
  if (o.parallel) {
    const r = await attempt(o, { parallelUploads: Number(o.parallel) }, {});
    Object.assign(out, r);
  }
  else if (o['interrupt-at']) {
    if (!o.store) {
      throw new Error('--interrupt-at needs --store');
    }
    const storage = new tus.FileUrlStorage(o.store);
    const common = {
      urlStorage: storage,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
    };
    const limit = Number(o['interrupt-at']);
    const first = await attempt(o, common, {
      onProgress: (sent) => sent >= limit,
    });
    if (first.aborted === undefined) {
      throw new Error('the upload finished before it could be interrupted');
    }
    out.interruptedAt = first.aborted;
    let resumedFrom = null;
    const r = await attempt(o, common, {
      resume: true,
      // the offset the server reported when the upload was resumed
      onHead: (offset) => {
        if (resumedFrom === null) {
          resumedFrom = offset;
        }
      },
    });
    Object.assign(out, r);
    out.resumedFrom = resumedFrom;
  }
  else {
    Object.assign(out, await attempt(o, {}, {}));
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  process.stderr.write('tus-upload.js: ' + (err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
