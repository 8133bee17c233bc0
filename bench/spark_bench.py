"""Apache Spark baselines for the Spindle benchmark harness (local[2]).

usage: spark_bench.py (wordcount|aggregate|sort) INPUT RUNS SCRATCH_DIR
       spark_bench.py spill-sort N:PARTS RUNS SCRATCH_DIR

Prints one JSON line per API (rdd, dataframe): job times of each run (session
start-up excluded, reported separately) and the number of lines written (the
distinct keys, or for sort the records).

spill-sort generates the records of `bench-jobs spill-sort N PARTS` (record i
keyed by SplitMix64(i), its value i as 12 digits and padding to 88 bytes) over
PARTS partitions, sorts them into PARTS partitions (RDD sortByKey, DataFrame
orderBy) and writes `key<TAB>value` lines. The DataFrame computes the key with
64-bit integer arithmetic that wraps (ANSI mode off), so its keys are the same
bits read as signed numbers.
"""
import json
import os
import shutil
import sys
import time

workload, path, runs, scratch = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

t0 = time.perf_counter()
from pyspark.sql import SparkSession, functions as F  # noqa: E402

spark = (
    SparkSession.builder.master("local[2]")
    .appName("spindle-bench")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .config("spark.sql.shuffle.partitions", "2")
    .config("spark.driver.memory", "4g")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
session_start = time.perf_counter() - t0

PAD = "-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxy"
M64 = (1 << 64) - 1
if workload == "spill-sort":
    records, sort_parts = (int(x) for x in path.split(":"))
    spark.conf.set("spark.sql.shuffle.partitions", str(sort_parts))
    spark.conf.set("spark.sql.ansi.enabled", "false")


def mix(x):
    z = (x + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def signed(x):
    return x - (1 << 64) if x >= 1 << 63 else x


def mix_column(c):
    def xor_shift(z, n):
        return z.bitwiseXOR(F.shiftrightunsigned(z, n))
    z = c + F.lit(signed(0x9E3779B97F4A7C15))
    z = xor_shift(z, 30) * F.lit(signed(0xBF58476D1CE4E5B9))
    z = xor_shift(z, 27) * F.lit(signed(0x94D049BB133111EB))
    return xor_shift(z, 31)


def out_dir(name):
    d = os.path.join(scratch, name)
    shutil.rmtree(d, ignore_errors=True)
    return d


def rdd_job(i):
    if workload == "spill-sort":
        sc = spark.sparkContext
        pairs = sc.range(0, records, numSlices=sort_parts).map(lambda i: (mix(i), f"{i:012d}{PAD}"))
        t = time.perf_counter()
        pairs.sortByKey(True, sort_parts).map(lambda kv: f"{kv[0]}\t{kv[1]}").saveAsTextFile(out_dir(f"rdd-{i}"))
        elapsed = time.perf_counter() - t
        return elapsed, sc.textFile(os.path.join(scratch, f"rdd-{i}")).count()
    lines = spark.sparkContext.textFile(path, 2)
    if workload == "sort":
        def record(line):
            k, _, v = line.partition(" ")
            return [(k, v)] if v else []
        ordered = lines.flatMap(record).sortByKey(True, 2)
        t = time.perf_counter()
        ordered.map(lambda kv: f"{kv[0]}\t{kv[1]}").saveAsTextFile(out_dir(f"rdd-{i}"))
        elapsed = time.perf_counter() - t
        return elapsed, spark.sparkContext.textFile(os.path.join(scratch, f"rdd-{i}")).count()
    if workload == "wordcount":
        pairs = lines.flatMap(lambda l: l.split()).map(lambda w: (w, 1))
    else:
        def parse(line):
            k, _, v = line.partition(" ")
            return [(k, int(v))] if v else []
        pairs = lines.flatMap(parse)
    sums = pairs.reduceByKey(lambda a, b: a + b, 2)
    t = time.perf_counter()
    sums.map(lambda kv: f"{kv[0]}\t{kv[1]}").saveAsTextFile(out_dir(f"rdd-{i}"))
    elapsed = time.perf_counter() - t
    return elapsed, spark.sparkContext.textFile(os.path.join(scratch, f"rdd-{i}")).count()


def df_job(i):
    if workload == "spill-sort":
        ids = spark.range(0, records, 1, sort_parts)
        value = F.concat(F.lpad(F.col("id").cast("string"), 12, "0"), F.lit(PAD))
        result = ids.select(mix_column(F.col("id")).alias("k"), value.alias("v")).orderBy("k")
        t = time.perf_counter()
        result.write.option("sep", "\t").csv(out_dir(f"df-{i}"))
        elapsed = time.perf_counter() - t
        return elapsed, spark.read.option("sep", "\t").csv(os.path.join(scratch, f"df-{i}")).count()
    lines = spark.read.text(path)
    if workload == "sort":
        parts = F.split(F.col("value"), " ")
        result = lines.select(parts[0].alias("k"), parts[1].alias("v")).orderBy("k")
    elif workload == "wordcount":
        words = lines.select(F.explode(F.split(F.col("value"), r"\s+")).alias("k")).where(F.col("k") != "")
        result = words.groupBy("k").count()
    else:
        parts = F.split(F.col("value"), " ")
        result = lines.select(parts[0].alias("k"), parts[1].cast("long").alias("v")).groupBy("k").agg(F.sum("v"))
    t = time.perf_counter()
    result.write.option("sep", "\t").csv(out_dir(f"df-{i}"))
    elapsed = time.perf_counter() - t
    return elapsed, spark.read.option("sep", "\t").csv(os.path.join(scratch, f"df-{i}")).count()


for api, job in (("rdd", rdd_job), ("dataframe", df_job)):
    times, keys = [], 0
    for i in range(runs):
        elapsed, keys = job(i)
        times.append(elapsed)
    print(json.dumps({"api": api, "times": times, "session_start": session_start, "keys": keys}), flush=True)

spark.stop()
