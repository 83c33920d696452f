"""The data-quality benchmark's Python side: `cairn data check` against Pandera.

    python quality_bench.py data DIR ROWS SEED          DIR/rows.parquet with known violations
    python quality_bench.py big DIR TARGET_GIB SEED     DIR/big.parquet, about TARGET_GIB GiB
    python quality_bench.py pandera FILE                Pandera 0.35.0 (Polars backend) on FILE

Every command prints one JSON line.

Versions: pandera[polars]==0.35.0, polars==2.1.0, pyarrow (any recent); numpy is
not needed. Both files are written with pyarrow's ParquetWriter one row group of
1M rows at a time, so memory stays bounded whatever ROWS or TARGET_GIB is.

rows.parquet (snappy). With S = ROWS // 1000, each violation class sits on the
rows i with i % S == offset and i // S < 1000, so each class has exactly 1,000
rows for any ROWS >= 10,000 and classes of one column never overlap:

    id      int64, never null; row i holds i, except rows i % S == 1 hold i - 1:
            1,000 values appear twice (count - count_distinct = 1,000)
    score   float64 in [0, 1); offset 0: < 0, offset 1: > 1;
            500 nulls on rows i % 2S == 2, i // 2S < 500 (nulls are allowed)
    level   int64 in 1..9; offset 0: 0, offset 1: 10
    grade   string in {a, b, c}; offset 0: "d"
    code    string matching ^[A-Z]{3}$; offset 0: "abc", offset 1: "ABCD"
            ("ABCD" fails both the pattern and the length, "abc" only the pattern)
    active  bool; 1,000 nulls on offset 0

big.parquet (uncompressed, no dictionary, so its size is ~64 bytes a row): id
int64 0..n-1 and x1..x7 float64 uniform in [0, 1) with 53 random bits each.
"""

import json
import os
import random
import sys
import time

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CHUNK = 1_000_000  # rows per row group, and per generated chunk
CLASS = 1_000  # rows in each violation class
NULL_SCORES = 500  # allowed nulls in score


def uniform(rng, n):
    """n float64 values uniform in [0, 1) from a seeded random.Random, as an Arrow array.

    randbytes is C-fast; the top 53 bits of each little-endian u64 become the mantissa.
    """
    words = pa.Array.from_buffers(pa.uint64(), n, [None, pa.py_buffer(rng.randbytes(8 * n))])
    top53 = pc.shift_right(words, pa.scalar(11, pa.uint64()))
    return pc.multiply(pc.cast(top53, pa.float64()), 2.0**-53)


def write_chunks(path, chunks, **writer_options):
    """Writes an iterator of Arrow tables to one Parquet file, one row group each."""
    writer = None
    for table in chunks:
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, **writer_options)
        writer.write_table(table, row_group_size=CHUNK)
    writer.close()


# ---------------------------------------------------------------- data


def expected_counts():
    """Expected failures per (field, constraint); a null is not a violation of a check."""
    return {
        "id": {"not_null": 0, "unique": CLASS, "unique_rows": 2 * CLASS},
        "score": {"ge_0": CLASS, "le_1": CLASS, "nulls_allowed": NULL_SCORES},
        "level": {"gt_0": CLASS, "lt_10": CLASS},
        "grade": {"isin": CLASS},
        "code": {"str_matches": 2 * CLASS, "str_length": CLASS},
        "active": {"not_null": CLASS},
    }


LETTERS = {i: chr(ord("A") + i) for i in range(26)}


def rows_chunk(start, n, stride, rng):
    """Rows start..start+n of rows.parquet as an Arrow table (see the module doc)."""
    i = pl.int_range(start, start + n, dtype=pl.Int64, eager=True).alias("i")
    df = pl.DataFrame([i]).with_columns(
        pl.Series("u1", uniform(rng, n)),
        pl.Series("u2", uniform(rng, n)),
        pl.Series("u3", uniform(rng, n)),
        pl.Series("u4", uniform(rng, n)),
        pl.Series("u5", uniform(rng, n)),
    )

    def at(offset, step=stride, count=CLASS):
        # Exactly `count` rows: i % step == offset within the first count * step rows.
        return ((pl.col("i") % step) == offset) & ((pl.col("i") // step) < count)

    code = (pl.col("u4") * 26**3).cast(pl.Int64).clip(0, 26**3 - 1)
    letter = lambda e: e.replace_strict(LETTERS, return_dtype=pl.String)  # noqa: E731
    return df.select(
        pl.when(at(1)).then(pl.col("i") - 1).otherwise(pl.col("i")).alias("id"),
        pl.when(at(0)).then(-0.5 - pl.col("u1") / 2)  # in (-1, -0.5]: never -0.0
        .when(at(1)).then(1.5 + pl.col("u1") / 2)
        .when(at(2, 2 * stride, NULL_SCORES)).then(None)
        .otherwise(pl.col("u1")).alias("score"),
        pl.when(at(0)).then(0)
        .when(at(1)).then(10)
        .otherwise((pl.col("u2") * 9).cast(pl.Int64).clip(0, 8) + 1).alias("level"),
        pl.when(at(0)).then(pl.lit("d"))
        .otherwise(letter((pl.col("u3") * 3).cast(pl.Int64).clip(0, 2)).str.to_lowercase())
        .alias("grade"),
        pl.when(at(0)).then(pl.lit("abc"))
        .when(at(1)).then(pl.lit("ABCD"))
        .otherwise(pl.concat_str(letter(code // 676), letter(code // 26 % 26), letter(code % 26)))
        .alias("code"),
        pl.when(at(0)).then(None).otherwise(pl.col("u5") < 0.5).alias("active"),
    ).to_arrow()


def data(out, rows, seed):
    if rows < 10 * CLASS:
        sys.exit(f"ROWS must be at least {10 * CLASS}")
    stride, rng = rows // CLASS, random.Random(seed)
    path = os.path.join(out, "rows.parquet")
    start = time.perf_counter()
    chunks = (rows_chunk(s, min(CHUNK, rows - s), stride, rng) for s in range(0, rows, CHUNK))
    write_chunks(path, chunks, compression="snappy")
    print(json.dumps({
        "file": path, "rows": rows, "seed": seed, "bytes": os.path.getsize(path),
        "seconds": round(time.perf_counter() - start, 3), "compression": "snappy",
        "expected": expected_counts(),
    }))


# ---------------------------------------------------------------- big


def big(out, target_gib, seed):
    rows = int(target_gib * 2**30 / 64)  # 8 columns x 8 bytes, plain-encoded
    rng, path = random.Random(seed), os.path.join(out, "big.parquet")
    start = time.perf_counter()

    def chunks():
        for s in range(0, rows, CHUNK):
            n = min(CHUNK, rows - s)
            cols = {"id": pa.array(range(s, s + n), pa.int64())}
            cols.update({f"x{k}": uniform(rng, n) for k in range(1, 8)})
            yield pa.table(cols)

    write_chunks(path, chunks(), compression="none", use_dictionary=False)
    size = os.path.getsize(path)
    print(json.dumps({
        "file": path, "rows": rows, "seed": seed, "bytes": size, "gib": round(size / 2**30, 3),
        "seconds": round(time.perf_counter() - start, 3), "compression": "none",
    }))


# ---------------------------------------------------------------- pandera


def schema():
    """The contract, in Pandera's Polars API.

    Checks skip nulls (Check's ignore_na=True), so only `nullable=False` counts
    nulls. Pandera's Field defaults to nullable=False; level, grade and code are
    marked nullable=True so that, as in the cairn contract, only id and active
    are required.
    """
    import pandera.polars as pa

    class Rows(pa.DataFrameModel):
        id: pl.Int64 = pa.Field(nullable=False, unique=True)
        score: pl.Float64 = pa.Field(nullable=True, ge=0, le=1)
        level: pl.Int64 = pa.Field(nullable=True, gt=0, lt=10)
        grade: pl.String = pa.Field(nullable=True, isin=["a", "b", "c"])
        code: pl.String = pa.Field(
            nullable=True, str_matches=r"^[A-Z]{3}$",
            str_length={"min_value": 3, "max_value": 3},
        )
        active: pl.Boolean = pa.Field(nullable=False)

    return Rows


# Pandera's check names -> the constraint names of expected_counts().
CHECK_NAMES = {
    "not_nullable": "not_null",
    "field_uniqueness": "unique_rows",
    "greater_than_or_equal_to(0)": "ge_0",
    "less_than_or_equal_to(1)": "le_1",
    "greater_than(0)": "gt_0",
    "less_than(10)": "lt_10",
}


def pandera_counts(failure_cases):
    """Failures per (column, check) from SchemaErrors.failure_cases.

    Pandera's `unique` reports every row whose value is duplicated (2 per id
    that appears twice): "raw" keeps that, "counts" adds unique = rows - distinct
    values, comparable with cairn's count - count_distinct.
    """
    raw, counts = {}, {}
    keys = ["column", "check"]
    for (column, check), group in failure_cases.sort(keys).group_by(keys, maintain_order=True):
        raw.setdefault(column, {})[check] = group.height
        name = CHECK_NAMES.get(check, check.split("(")[0])
        counts.setdefault(column, {})[name] = group.height
        if check == "field_uniqueness":
            counts[column]["unique"] = group.height - group["failure_case"].n_unique()
    return raw, counts


def run_pandera(path):
    import pandera
    from pandera.errors import SchemaErrors

    model = schema()
    start = time.perf_counter()
    # An eager DataFrame: given a LazyFrame, Pandera's Polars backend validates
    # the schema only (no data checks) unless PANDERA_VALIDATION_DEPTH says otherwise.
    df = pl.read_parquet(path)
    read = time.perf_counter()
    try:
        model.validate(df, lazy=True)
        failures = None
    except SchemaErrors as err:
        failures = err.failure_cases
    end = time.perf_counter()
    raw, counts = pandera_counts(failures) if failures is not None else ({}, {})
    print(json.dumps({
        "tool": "pandera", "pandera": pandera.__version__, "polars": pl.__version__,
        "threads": pl.thread_pool_size(), "file": path, "rows": df.height,
        "read_s": round(read - start, 3), "validate_s": round(end - read, 3),
        "read_validate_s": round(end - start, 3), "raw": raw, "counts": counts,
    }))


def main(argv):
    cmd, args = (argv[1], argv[2:]) if len(argv) > 1 else (None, [])
    if cmd == "data" and len(args) == 3:
        data(args[0], int(args[1]), int(args[2]))
    elif cmd == "big" and len(args) == 3:
        big(args[0], float(args[1]), int(args[2]))
    elif cmd == "pandera" and len(args) == 1:
        run_pandera(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
