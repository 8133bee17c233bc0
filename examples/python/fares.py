"""Fares per city in Python, from Parquet: `fares PARQUET OUTPUT_DIR [MIN_FARE]`,
the same sums as the Rust table example's `aggregate` (examples/tables),
written as `city<TAB>trips<TAB>total` lines.

The host reads the Parquet files (only the `city` and `fare` columns, row
groups the filter rules out skipped) and hands each row to the guest in the
row encoding of `wit/job.wit`; `read_row` below decodes it. A sum travels as
a value of two 8-byte fields: the trip count (big-endian) and the total
(IEEE 754, little-endian, as the row encoding writes floats).
"""

import struct

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import context, task_io

BATCH_BYTES = 64 << 10


def read_uleb(b, at):
    n, shift = 0, 0
    while True:
        byte = b[at]
        at += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, at


def read_value(b, at):
    """One tagged value of the row encoding at `at`: (value, next offset)."""
    tag = b[at]
    at += 1
    if tag == 0:
        return None, at
    if tag == 1:
        return b[at] != 0, at + 1
    if tag == 2:
        return struct.unpack_from("<q", b, at)[0], at + 8
    if tag == 3:
        return struct.unpack_from("<d", b, at)[0], at + 8
    if tag in (4, 5):
        n, at = read_uleb(b, at)
        raw = bytes(b[at : at + n])
        return (raw.decode() if tag == 4 else raw), at + n
    if tag == 6:
        n, at = read_uleb(b, at)
        items = []
        for _ in range(n):
            item, at = read_value(b, at)
            items.append(item)
        return items, at
    if tag == 7:
        return read_row(b, at)
    raise Err(f"fares-py: unknown value tag {tag}")


def read_row(b, at=0):
    """A row (or nested row) at `at`: ({name: value}, next offset)."""
    count, at = read_uleb(b, at)
    fields = {}
    for _ in range(count):
        n, at = read_uleb(b, at)
        name = bytes(b[at : at + n]).decode()
        fields[name], at = read_value(b, at + n)
    return fields, at


def uleb(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def records(batch):
    """(key or None, value) for each framed record of a batch."""
    at = 0
    while at < len(batch):
        k, at = read_uleb(batch, at)
        key = None
        if k:
            key = batch[at : at + k - 1]
            at += k - 1
        n, at = read_uleb(batch, at)
        yield key, batch[at : at + n]
        at += n


class Output:
    def __init__(self):
        self.buf = bytearray()

    def push(self, key, value):
        self.buf += b"\x00" if key is None else uleb(len(key) + 1) + key
        self.buf += uleb(len(value)) + value
        if len(self.buf) >= BATCH_BYTES:
            self.flush()

    def flush(self):
        if self.buf:
            task_io.write(bytes(self.buf))
            self.buf = bytearray()


def pack(trips, total):
    return struct.pack(">Q", trips) + struct.pack("<d", total)


def unpack(value):
    return struct.unpack(">Q", value[:8])[0], struct.unpack("<d", value[8:16])[0]


class Task(exports.Task):
    def run(self, steps):
        ops = [bytes(step.value) for step in steps]
        if any(op not in (b"pair", b"add", b"format") for op in ops):
            raise Err("fares-py: unknown op")
        out = Output()
        sums = [dict() for _ in ops]

        def push(i, key, value):
            if i == len(ops):
                out.push(key, value)
            elif ops[i] == b"pair":
                row, _ = read_row(value)
                push(i + 1, row["city"].encode(), pack(1, row["fare"]))
            elif ops[i] == b"add":
                trips, total = sums[i].get(key, (0, 0.0))
                more, extra = unpack(value)
                sums[i][key] = (trips + more, total + extra)
            else:
                trips, total = unpack(value)
                push(i + 1, None, key + f"\t{trips}\t{total!r}".encode())

        while (batch := task_io.read()) is not None:
            for key, value in records(batch):
                push(0, key, value)
        for i, op in enumerate(ops):
            if op == b"add":
                for key, (trips, total) in sums[i].items():
                    push(i + 1, key, pack(trips, total))
        out.flush()


class App(exports.App):
    def run(self, args):
        if len(args) not in (2, 3):
            raise Err("usage: fares PARQUET OUTPUT_DIR [MIN_FARE]")
        filters = []
        if len(args) == 3:
            at_least = context.Scalar_Float(float(args[2]))
            filters.append(context.Predicate(column="fare", op=context.CompareOp.GE, value=at_least))
        options = context.TableOptions(
            format=context.TableFormat.PARQUET,
            min_partitions=None,
            columns=["city", "fare"],
            filters=filters,
            schema=None,
            mode=context.ReadMode.FAIL,
            skipped=None,
            csv=context.CsvOptions(header=True, delimiter=None, quote=None, null_value=None),
            compression=None,
        )
        try:
            rows = context.table_source(args[0], options)
            rows.narrow(b"pair").reduce_by_key(b"add", None).narrow(b"format").save_as_text_file(args[1])
        except Err as e:
            raise Err(f"fares-py: {e.value}")
