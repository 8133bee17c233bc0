"""Word count in Python: `wordcount INPUT OUTPUT_DIR`, the same job as the Rust
example (examples/wordcount): words split on Unicode whitespace, counted, written
as `word<TAB>count` lines, and the ten most frequent printed.

It implements the `spindle:job/job` world with the bindings componentize-py
generates: `App.run` builds the plan with three ops named by short byte strings,
and `Task.run` applies them to the records of a task. Records use the
recommended encoding: a word is its UTF-8 bytes (the key), a count an 8-byte
big-endian integer (the value).
"""

import re
import struct

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import context, task_io, types

# Rust's `char::is_whitespace` (the Unicode White_Space property), as UTF-8 bytes.
# Python's own `str.split()` also splits on U+001C..U+001F, which Rust does not.
SPACES = re.compile(
    rb"(?:[\t\n\x0b\x0c\r ]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80)+"
)
ONE = struct.pack(">Q", 1)
BATCH_BYTES = 64 << 10


def uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def records(batch: bytes):
    """Yields (key or None, value) for each framed record of a batch."""
    at, end = 0, len(batch)
    while at < end:
        values = []
        for _ in range(2):
            n, shift = 0, 0
            while True:
                b = batch[at]
                at += 1
                n |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            values.append(n)
            if len(values) == 1:
                if n == 0:
                    key = None
                else:
                    key = batch[at : at + n - 1]
                    at += n - 1
        vlen = values[1]
        yield key, batch[at : at + vlen]
        at += vlen


class Output:
    def __init__(self):
        self.buf = bytearray()

    def push(self, key, value):
        if key is None:
            self.buf += b"\x00"
        else:
            self.buf += uleb(len(key) + 1)
            self.buf += key
        self.buf += uleb(len(value))
        self.buf += value
        if len(self.buf) >= BATCH_BYTES:
            self.flush()

    def flush(self):
        if self.buf:
            task_io.write(bytes(self.buf))
            self.buf = bytearray()


class Task(exports.Task):
    def run(self, steps):
        ops = []
        for step in steps:
            name = bytes(step.value)
            if name not in (b"split", b"add", b"format"):
                raise Err("wordcount-py: unknown op")
            ops.append(name)
        out = Output()
        sums = [dict() for _ in ops]

        def push(i, key, value):
            if i == len(ops):
                out.push(key, value)
            elif ops[i] == b"split":
                for word in SPACES.split(value):
                    if word:
                        push(i + 1, word, ONE)
            elif ops[i] == b"add":
                m = sums[i]
                m[key] = m.get(key, 0) + int.from_bytes(value, "big")
            else:
                push(i + 1, None, key + b"\t" + str(int.from_bytes(value, "big")).encode())

        while (batch := task_io.read()) is not None:
            for key, value in records(batch):
                push(0, key, value)
        # The input ended: each `add` emits its sums, in step order.
        for i, op in enumerate(ops):
            if op == b"add":
                for key, n in sums[i].items():
                    push(i + 1, key, struct.pack(">Q", n))
        out.flush()


class App(exports.App):
    def run(self, args):
        if len(args) != 2:
            raise Err("usage: wordcount INPUT OUTPUT_DIR")
        try:
            lines = context.text_file(args[0], None)
            counts = lines.narrow(b"split").reduce_by_key(b"add", None)
            counts.narrow(b"format").save_as_text_file(args[1])
            # A second action over the same counts reuses the shuffle the first one wrote.
            everything = counts.collect()
        except Err as e:
            raise Err(f"wordcount-py: {e.value}")
        words = [(key, int.from_bytes(value, "big")) for key, value in records(everything)]
        words.sort(key=lambda kv: (-kv[1], kv[0]))
        print(f"{len(words)} distinct words; the most frequent:")
        for word, n in words[:10]:
            print(f"{n:>10}  {word.decode()}")
