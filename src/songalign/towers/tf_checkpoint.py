"""Read the variables of a TensorFlow (V2-format) checkpoint without TensorFlow.

A checkpoint ``PREFIX`` is two kinds of file: ``PREFIX.index``, a LevelDB-format sorted table
(SSTable) that maps each variable's name to a serialised ``BundleEntryProto`` (dtype, shape,
which data shard, byte offset and size), and ``PREFIX.data-SSSSS-of-NNNNN``, the raw
little-endian tensor bytes. TensorFlow writes the index uncompressed (its table options turn
compression off), so this reader needs only varints and two protobuf messages:

- table: a 48-byte footer (two block handles, magic ``0xdb4775248b80fb57``) points at the index
  block, whose entries point at data blocks; a block is a run of prefix-compressed
  ``(key, value)`` entries followed by its restart offsets and a 5-byte trailer (compression
  type, CRC);
- ``BundleEntryProto`` (tensorflow/core/protobuf/tensor_bundle.proto): ``dtype`` = 1,
  ``shape`` = 2 (``TensorShapeProto``: ``dim`` = 2, each ``size`` = 1), ``shard_id`` = 3,
  ``offset`` = 4, ``size`` = 5; the entry under the empty key is the bundle's header.

The one library on the package index for this (``tensorflow-checkpoint-reader``) pins
protobuf < 3.19 and fails on numpy 2, so this small reader is ours; ``tests/towers`` checks it
against the variables that musicnn's TensorFlow graph restores. Partitioned (sliced) variables
and compressed tables are refused with a clear error rather than misread.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from songalign.errors import BadInputError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_BYTES = 48
BLOCK_TRAILER_BYTES = 5
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    19: np.dtype("<f2"),  # DT_HALF
}


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    """The base-128 varint at ``position``, and the position after it."""
    result = shift = 0
    while True:
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7


def _fields(message: bytes) -> list[tuple[int, int | bytes]]:
    """``(field number, value)`` of a protobuf message: ints for varint/fixed fields, bytes for length-delimited."""
    fields: list[tuple[int, int | bytes]] = []
    position = 0
    while position < len(message):
        tag, position = _varint(message, position)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, position = _varint(message, position)
            fields.append((number, value))
        elif wire == 2:
            length, position = _varint(message, position)
            fields.append((number, message[position : position + length]))
            position += length
        elif wire == 5:
            fields.append((number, struct.unpack_from("<I", message, position)[0]))
            position += 4
        elif wire == 1:
            fields.append((number, struct.unpack_from("<Q", message, position)[0]))
            position += 8
        else:
            raise ValueError(f"protobuf wire type {wire} is not used by checkpoint entries")
    return fields


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    """The ``(key, value)`` entries of one table block (its restart array excluded)."""
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * restarts
    entries, position, key = [], 0, b""
    while position < end:
        shared, position = _varint(block, position)
        unshared, position = _varint(block, position)
        size, position = _varint(block, position)
        key = key[:shared] + block[position : position + unshared]
        position += unshared
        entries.append((key, block[position : position + size]))
        position += size
    return entries


def _block(table: bytes, handle: bytes, path: Path) -> bytes:
    offset, position = _varint(handle, 0)
    size, _ = _varint(handle, position)
    if offset + size + BLOCK_TRAILER_BYTES > len(table):
        raise BadInputError(path, "is cut short (a table block runs past its end); copy the checkpoint again")
    if table[offset + size] != 0:
        raise BadInputError(
            path, "has compressed table blocks, which this reader does not read; re-save it with TensorFlow"
        )
    return table[offset : offset + size]


def read_index(path: str | Path) -> dict[str, dict[str, object]]:
    """The entries of a checkpoint's ``.index`` file: variable name → ``{dtype, shape, shard, offset, size}``,
    and under the empty name the bundle header's ``{shards}``."""
    path = Path(path)
    table = path.read_bytes()
    if len(table) < FOOTER_BYTES or struct.unpack_from("<Q", table, len(table) - 8)[0] != TABLE_MAGIC:
        raise BadInputError(path, "is not a TensorFlow checkpoint index (no table magic at its end)")
    footer = table[-FOOTER_BYTES:]
    _, position = _varint(footer, _varint(footer, 0)[1])  # skip the metaindex handle
    index_handle = footer[position:]
    entries: dict[str, dict[str, object]] = {}
    for _, handle in _block_entries(_block(table, index_handle, path)):
        for key, value in _block_entries(_block(table, handle, path)):
            if not key:  # the BundleHeaderProto: num_shards = 1
                entries[""] = {"shards": next((v for n, v in _fields(value) if n == 1), 1)}
                continue
            entry: dict[str, object] = {"dtype": 1, "shape": [], "shard": 0, "offset": 0, "size": 0}
            for number, field in _fields(value):
                if number == 1:
                    entry["dtype"] = field
                elif number == 2:
                    entry["shape"] = [
                        next((v for n, v in _fields(dim) if n == 1), 0)
                        for n, dim in _fields(field)  # type: ignore[arg-type]
                        if n == 2
                    ]
                elif number in (3, 4, 5):
                    entry[{3: "shard", 4: "offset", 5: "size"}[number]] = field
                elif number == 7:
                    raise BadInputError(path, f"stores {key.decode()} partitioned, which this reader does not read")
            entries[key.decode()] = entry
    return entries


def read_tf_checkpoint(prefix: str | Path, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Variables of the checkpoint ``prefix`` (the path without ``.index``) as numpy arrays.

    ``names``: only these variables (default: all). Shapes are TensorFlow's (a conv kernel is
    ``(height, width, in, out)``); arrays are copies, independent of the files.
    """
    prefix = str(prefix)
    index_path = Path(prefix + ".index")
    if not index_path.is_file():
        raise BadInputError(index_path, "does not exist; give the checkpoint's prefix (the path without .index)")
    entries = read_index(index_path)
    shards = int(entries.pop("", {}).get("shards", 1))  # type: ignore[call-overload]
    wanted = list(entries) if names is None else names
    missing = [name for name in wanted if name not in entries]
    if missing:
        raise BadInputError(
            index_path, f"holds no variable {missing[0]!r}; its variables include {sorted(entries)[:5]}"
        )
    data: dict[int, bytes] = {}
    arrays: dict[str, np.ndarray] = {}
    for name in wanted:
        entry = entries[name]
        shard = int(entry["shard"])  # type: ignore[call-overload]
        if shard not in data:
            shard_path = Path(f"{prefix}.data-{shard:05d}-of-{shards:05d}")  # the prefix may end in "/"
            if not shard_path.is_file():
                raise BadInputError(shard_path, "is missing; copy the whole checkpoint")
            data[shard] = shard_path.read_bytes()
        dtype = DTYPES.get(int(entry["dtype"]))  # type: ignore[call-overload]
        if dtype is None:
            raise BadInputError(
                index_path, f"stores {name} as TensorFlow dtype {entry['dtype']}, which is not read here"
            )
        offset, size = int(entry["offset"]), int(entry["size"])  # type: ignore[call-overload]
        shape = tuple(int(d) for d in entry["shape"])  # type: ignore[attr-defined]
        if offset + size > len(data[shard]) or size != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise BadInputError(index_path, f"gives {name} a size that its data file does not hold; copy it again")
        arrays[name] = (
            np.frombuffer(data[shard], dtype, count=size // dtype.itemsize, offset=offset).reshape(shape).copy()
        )
    return arrays
