"""Parquet scan + group-by baselines for the Spindle benchmark harness:
DuckDB, Polars and Apache Spark's DataFrame API, each on 2 threads.

usage: tables_bench.py (duckdb|polars|spark) PARQUET_DIR RUNS

Reads `city` and `fare` of every `*.parquet` file under PARQUET_DIR, and per city
counts the rows and sums the fares. Prints one JSON line: the times of each run
(start-up excluded, reported apart) and the result of the last run, for the
harness to check against Spindle's.
"""
import glob
import json
import os
import sys
import time

system, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = sorted(glob.glob(os.path.join(path, "*.parquet")))
t0 = time.perf_counter()

if system == "duckdb":
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    query = f"SELECT city, count(*), sum(fare) FROM read_parquet({files!r}) GROUP BY city"

    def job():
        return con.execute(query).fetchall()

elif system == "polars":
    os.environ["POLARS_MAX_THREADS"] = "2"
    import polars as pl

    def job():
        df = pl.scan_parquet(files).group_by("city").agg(pl.len(), pl.col("fare").sum()).collect()
        return df.rows()

else:
    from pyspark.sql import SparkSession, functions as F

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("spindle-bench-tables")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")

    def job():
        rows = spark.read.parquet(*files).groupBy("city").agg(F.count("*"), F.sum("fare")).collect()
        return [tuple(r) for r in rows]

start_up = time.perf_counter() - t0
times, result = [], None
for _ in range(runs):
    t = time.perf_counter()
    result = job()
    times.append(time.perf_counter() - t)
print(json.dumps({"system": system, "times": times, "start_up": start_up,
                  "result": [[str(c), int(n), float(s)] for c, n, s in result]}))
