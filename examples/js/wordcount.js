// Word count in JavaScript: `wordcount INPUT OUTPUT_DIR`, the same job as the
// Rust example (examples/wordcount): words split on Unicode whitespace, counted,
// written as `word<TAB>count` lines, and the ten most frequent printed.
//
// It implements the `spindle:job/job` world with componentize-js: `app.run`
// builds the plan with three ops named by short strings, and `task.run` applies
// them to the records of a task. Records use the recommended encoding: a word is
// its UTF-8 bytes (the key), a count an 8-byte big-endian integer (the value).

import { textFile } from 'spindle:job/context@0.1.0';
import { read, write } from 'spindle:job/task-io@0.1.0';

// Rust's `char::is_whitespace` (the Unicode White_Space property). JavaScript's
// `\s` adds U+FEFF and lacks U+0085, so the set is spelled out.
const SPACES = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
const BATCH_BYTES = 64 << 10;
const utf8 = new TextEncoder();
// Keep a leading U+FEFF: it is part of the line's first word, not a BOM.
const text = new TextDecoder('utf-8', { ignoreBOM: true });
const op = (name) => utf8.encode(name);

function* records(batch) {
  let at = 0;
  const uleb = () => {
    let n = 0, shift = 0, b;
    do {
      b = batch[at++];
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return n;
  };
  while (at < batch.length) {
    const k = uleb();
    let key = null;
    if (k > 0) {
      key = batch.subarray(at, at + k - 1);
      at += k - 1;
    }
    const v = uleb();
    yield [key, batch.subarray(at, at + v)];
    at += v;
  }
}

class Output {
  constructor() {
    this.buf = new Uint8Array(BATCH_BYTES + 1024);
    this.len = 0;
  }
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    bigger.set(this.buf.subarray(0, this.len));
    this.buf = bigger;
  }
  uleb(n) {
    this.reserve(5);
    do {
      let b = n % 128;
      n = Math.floor(n / 128);
      this.buf[this.len++] = n ? b | 0x80 : b;
    } while (n);
  }
  bytes(b) {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  push(key, value) {
    if (key === null) {
      this.uleb(0);
    } else {
      this.uleb(key.length + 1);
      this.bytes(key);
    }
    this.uleb(value.length);
    this.bytes(value);
    if (this.len >= BATCH_BYTES) this.flush();
  }
  flush() {
    if (this.len > 0) write(this.buf.slice(0, this.len));
    this.len = 0;
  }
}

const u64 = (n) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
};
const fromU64 = (b) => Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0));
const ONE = u64(1);

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export const task = {
  run(steps) {
    const ops = steps.map((s) => text.decode(s.val));
    for (const o of ops) {
      if (!['split', 'add', 'format'].includes(o)) throw `wordcount-js: unknown op ${o}`;
    }
    const out = new Output();
    // Per `add` step: key (as a latin1 string of its bytes) -> [key bytes, sum].
    const sums = ops.map(() => new Map());
    const push = (i, key, value) => {
      if (i === ops.length) return out.push(key, value);
      switch (ops[i]) {
        case 'split':
          for (const word of text.decode(value).split(SPACES)) {
            if (word) push(i + 1, utf8.encode(word), ONE);
          }
          break;
        case 'add': {
          const id = String.fromCharCode.apply(null, key);
          const entry = sums[i].get(id);
          if (entry) entry[1] += fromU64(value);
          else sums[i].set(id, [key.slice(), fromU64(value)]);
          break;
        }
        case 'format':
          push(i + 1, null, utf8.encode(`${text.decode(key)}\t${fromU64(value)}`));
          break;
      }
    };
    for (let batch = read(); batch !== undefined; batch = read()) {
      for (const [key, value] of records(batch)) push(0, key, value);
    }
    // The input ended: each `add` emits its sums, in step order.
    ops.forEach((o, i) => {
      if (o === 'add') for (const [key, n] of sums[i].values()) push(i + 1, key, u64(n));
    });
    out.flush();
  },
};

export const app = {
  run(args) {
    if (args.length !== 2) throw 'usage: wordcount INPUT OUTPUT_DIR';
    let everything;
    try {
      const counts = textFile(args[0], undefined).narrow(op('split')).reduceByKey(op('add'), undefined);
      counts.narrow(op('format')).saveAsTextFile(args[1]);
      // A second action over the same counts reuses the shuffle the first one wrote.
      everything = counts.collect();
    } catch (e) {
      throw `wordcount-js: ${e.payload ?? e}`;
    }
    const words = [...records(everything)].map(([k, v]) => [k, fromU64(v)]);
    words.sort((a, b) => b[1] - a[1] || compareBytes(a[0], b[0]));
    console.log(`${words.length} distinct words; the most frequent:`);
    for (const [word, n] of words.slice(0, 10)) {
      console.log(`${String(n).padStart(10)}  ${text.decode(word)}`);
    }
  },
};
