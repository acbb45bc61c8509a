"""Benchmark: p50/p95 time of every dashboard page on one store, the page's query time (its
``carevalue.web.pages`` function) and its rendering time (template, figures, JSON) shown apart.

Every page of the store is requested through the standalone app in-process (FastAPI TestClient,
local user, an audit log in a temporary folder): the overview, each segment, and per condition with
cycles its scorecard, comparison (every compared measure), patients-like-you (empty form and a
typical person), every provider's scorecard and cycle list, and the timelines of a sample of
patients; each page `--repeat` times (the first request of a page, which fits models and fills
caches, is counted like the others). Goal: p95 ≤ 300 ms.

Pages are computed once per published run and reused (web/pages.py), so a page's `.json` twin
and every repeat answer from memory: the "first requests" line gives the pages as computed
(the HTML page, asked first), `--no-reuse` forgets the pages before every request (the like-you
models stay fitted: they too are kept per run), and `--prepare` fits the like-you models first, as
a server does at start (`web.pages.prepare`), and prints how long that took.

    .venv/bin/python benchmarks/dashboard.py --store demo-output/carevalue.duckdb
    .venv/bin/python benchmarks/dashboard.py --patients 2000        # builds a store in build/bench-dashboard
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

warnings.filterwarnings("ignore")

PAGE_FUNCTIONS = ("overview", "condition", "comparison", "like_you", "segment", "provider_cycles", "timeline")


def build_store(patients: int, folder: Path) -> Path:
    """A synthetic store of ``patients`` people (seed 7) with one full run, reused when present."""
    from carevalue.pipeline.runs import RunStore
    from carevalue.synth import generate
    from carevalue.workspace import Workspace

    db = folder / "carevalue.duckdb"
    if db.exists() and RunStore(db).current_id():
        return db
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    generate(patients=patients, seed=7, out=folder / "population")
    Workspace.open(db, must_exist=False).ingest([folder / "population" / "source"])
    Workspace.open(db).run()
    print(f"built {db} ({patients:,} patients) in {time.perf_counter() - t:,.0f} s")
    return db


def _timed(fn: Callable[..., Any], spent: list[float]) -> Callable[..., Any]:
    @wraps(fn)
    def run(*a: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            spent.append(time.perf_counter() - t)

    return run


def page_urls(client: Any, timelines: int) -> list[tuple[str, str]]:
    """(kind, url) of every page of the store, found by walking the .json twins."""
    ov = client.get("/overview.json").json()
    urls = [("overview", "/overview"), *[("segment", f"/segments/{s['segment']}") for s in ov["segments"]]]
    active = [c for c in ov["conditions"] if isinstance(c["cycles"], int) and c["cycles"] > 0]
    per_condition = max(1, timelines // max(1, len(active)))
    for c in active:
        cid = c["condition"]
        card = client.get(f"/conditions/{cid}.json")
        if card.status_code != 200:
            continue
        data = card.json()
        urls.append(("condition", f"/conditions/{cid}"))
        for m in data["measures"]:
            if m["ok"]:
                q = {"measure": m["measure"], "time_point": m["time_point"] or "", "scale": m["scale"] or ""}
                urls.append(("comparison", f"/conditions/{cid}/comparison?{urlencode(q)}"))
        form = client.get(f"/conditions/{cid}/like-you.json").json()["form"]
        typical = {f["variable"]: f["typical"] for f in form if f.get("typical") not in (None, "")}
        urls += [("like-you (form)", f"/conditions/{cid}/like-you"),
                 ("like-you (a person)", f"/conditions/{cid}/like-you?{urlencode(typical)}")]
        providers = sorted({r["organization_id"] for r in data["costs"] if r.get("organization_id")})
        for p in providers:
            urls += [("provider", f"/conditions/{cid}/providers/{p}"),
                     ("provider cycles", f"/conditions/{cid}/providers/{p}/cycles")]
        if providers:
            rows = client.get(f"/conditions/{cid}/providers/{providers[0]}/cycles.json").json()["rows"]
            for pid in list(dict.fromkeys(r["patient_id"] for r in rows))[:per_condition]:
                urls.append(("timeline", f"/patients/{pid}"))
    return urls


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, help="A store with a published run (default: build one).")
    ap.add_argument("--patients", type=int, default=2000, help="Patients of the store built when --store is not given.")
    ap.add_argument("--repeat", type=int, default=5, help="Requests per page.")
    ap.add_argument("--timelines", type=int, default=20, help="Patient timelines in the sample.")
    ap.add_argument("--no-reuse", action="store_true", help="Forget the computed pages before every request.")
    ap.add_argument("--prepare", action="store_true", help="Fit the like-you models before measuring.")
    args = ap.parse_args()

    from fastapi.testclient import TestClient

    from carevalue.web import pages
    from carevalue.web.app import create_dashboard_app

    store = args.store or build_store(args.patients, Path("build") / f"bench-dashboard-{args.patients}")
    spent: list[float] = []
    for name in PAGE_FUNCTIONS:  # the page's own query time: its pages.* function
        setattr(pages, name, _timed(getattr(pages, name), spent))
    with tempfile.TemporaryDirectory() as tmp:
        dashboard = create_dashboard_app(store, audit=Path(tmp) / "audit.sqlite")
        client = TestClient(dashboard)
        if args.prepare:
            t = time.perf_counter()
            models = pages.prepare(dashboard.state.workspace)
            print(f"prepare: {sum(models.values())} like-you models of {len(models)} conditions fitted "
                  f"in {time.perf_counter() - t:.1f} s")
        urls = page_urls(client, args.timelines)
        pages.MEMO.clear()  # walking the twins above computed some pages: start every page afresh
        total: dict[str, list[float]] = defaultdict(list)
        query: dict[str, list[float]] = defaultdict(list)
        first: list[float] = []
        failed: list[str] = []
        for kind, url in urls:
            for path in (url, url.replace("?", ".json?", 1) if "?" in url else url + ".json"):
                label = kind + (" .json" if ".json" in path else "")
                for i in range(args.repeat):
                    if args.no_reuse:
                        pages.MEMO.clear()
                    spent.clear()
                    t = time.perf_counter()
                    r = client.get(path)
                    total[label].append(time.perf_counter() - t)
                    query[label].append(sum(spent))
                    if i == 0 and ".json" not in path:
                        first.append(total[label][-1])
                    if r.status_code != 200:
                        failed.append(f"{path}: {r.status_code}")
    print(f"store {store}; {len(urls)} pages, each as HTML and .json, {args.repeat} requests each"
          f"{'; pages forgotten before every request' if args.no_reuse else ''}; load average "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    head = f"{'page':<26}{'pages':>6}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'query p50':>11}{'query p95':>11}{'render p50':>12}{'render p95':>12}"
    print(head)
    everything_total, everything_query, everything_render = [], [], []
    for label in total:
        tt, qq = total[label], query[label]
        rr = [a - b for a, b in zip(tt, qq, strict=True)]
        everything_total += tt
        everything_query += qq
        everything_render += rr
        n_pages = len(tt) // args.repeat
        print(f"{label:<26}{n_pages:>6}{len(tt):>9}{1000 * pct(tt, .5):>9.1f}{1000 * pct(tt, .95):>9.1f}"
              f"{1000 * pct(qq, .5):>11.1f}{1000 * pct(qq, .95):>11.1f}{1000 * pct(rr, .5):>12.1f}{1000 * pct(rr, .95):>12.1f}")
    print(f"{'all pages':<26}{len(urls) * 2:>6}{len(everything_total):>9}{1000 * pct(everything_total, .5):>9.1f}"
          f"{1000 * pct(everything_total, .95):>9.1f}{1000 * pct(everything_query, .5):>11.1f}"
          f"{1000 * pct(everything_query, .95):>11.1f}{1000 * pct(everything_render, .5):>12.1f}"
          f"{1000 * pct(everything_render, .95):>12.1f}")
    print(f"{'first requests (HTML)':<26}{len(first):>6}{len(first):>9}{1000 * pct(first, .5):>9.1f}"
          f"{1000 * pct(first, .95):>9.1f}")
    print(f"mean {1000 * statistics.fmean(everything_total):.1f} ms; goal p95 ≤ 300 ms: "
          f"{'met' if pct(everything_total, .95) <= 0.3 else 'NOT met'}")
    if failed:
        print(f"{len(failed)} requests did not answer 200, e.g. {failed[:3]}")


if __name__ == "__main__":
    main()
