"""Blog read throughput: the anonymous post list `GET /api/v1/blog/posts?lang=it` straight to the
service, from the answer cache and without it, next to a bare FastAPI JSON endpoint measured in the
same run on the same machine (the ratio is the figure that matters on a shared, noisy machine).
The method, and the code, are bench_catalog.py's (`measure_reads`).

Starts (as local processes): the blog on a fresh schema filled with the demo data (posts in four
languages, with categories and tags, public and gated), a second blog process on the same schema
with the cache off, and the bare app; drives each with wrk (32 connections) and prints req/s, p50,
p99 and the ratios; stops everything and drops the schema.

    python deploy/bench/bench_blog.py [--duration 10] [--rounds 2]
"""

from __future__ import annotations

import sys

from bench_catalog import ReadBench, measure_reads  # same folder

BLOG = ReadBench(
    service="blog",
    path="/api/v1/blog/posts?lang=it",
    counted=b'"locked"',
    items="posts with categories and tags (lang=it)",
)


if __name__ == "__main__":
    sys.exit(measure_reads(BLOG))
