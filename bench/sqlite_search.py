#!/usr/bin/env python3
"""SQLite store search benchmark (issue 27, point 5): mlx vs MLflow 3.17.2 on one `mlflow.db`.

Usage: sqlite_search.py MLX_BINARY OUT_DIR N [N ...]
For each N: a database of N runs (3 params, 3 metrics) whose schema and experiment MLflow itself creates,
the runs bulk-inserted with exactly the rows MLflow writes for `create_run` + `log_batch` + `set_terminated`
(checked: MLflow reads a sample of them back, and counts the same matches as this script). Then, as whole
processes (each a fresh interpreter / binary, so start-up is included):
  - top 10: search_runs("metrics.acc > 0.5", order_by acc DESC, max 10) vs
    mlx runs list --filter "metrics.acc > 0.5" --order-by "metrics.acc DESC" --max 10
  - newest 1,000: search_runs(max 1000) vs mlx runs list --max 1000
Both answers must be the same run ids in the same order. REUSE=1 keeps a database an earlier run made;
MAKE_ONLY=1 only makes the databases. Prints one line per measurement (median of the
repeats, and the repeats) and the load average. Never run as a test; the machine's load adds noise.
"""
import json, os, random, sqlite3, subprocess, sys, time, uuid

PY = sys.executable
MLX, OUT, SIZES = sys.argv[1], sys.argv[2], [int(n) for n in sys.argv[3:]]
os.makedirs(OUT, exist_ok=True)
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLX_"))}

MAKE = """
import sys, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
from mlflow.tracking import MlflowClient
print(MlflowClient(sys.argv[1]).create_experiment("bench"))
"""

SEARCH = """
import json, sys, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
from mlflow.tracking import MlflowClient
uri, exp, what = sys.argv[1:4]
c = MlflowClient(uri)
if what == "top10":
    runs = c.search_runs([exp], "metrics.acc > 0.5", order_by=["metrics.acc DESC"], max_results=10)
else:
    runs = c.search_runs([exp], max_results=1000)
print(json.dumps([r.info.run_id for r in runs]))
"""

CHECK = """
import json, sys, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
from mlflow.tracking import MlflowClient
uri, exp, sample = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
c = MlflowClient(uri)
out = {}
for rid in sample:
    r = c.get_run(rid)
    out[rid] = {"metrics": r.data.metrics, "params": r.data.params, "name": r.info.run_name,
                "status": r.info.status, "start": r.info.start_time, "end": r.info.end_time,
                "history": [(m.value, m.step, m.timestamp) for m in c.get_metric_history(rid, "acc")]}
out["count"] = len(c.search_runs([exp], "metrics.acc > 0.95", max_results=50000))
print(json.dumps(out))
"""


def make(path, n):
    uri = "sqlite:///" + path
    exp = subprocess.run([PY, "-c", MAKE, uri], env=ENV, check=True, capture_output=True, text=True,
                         cwd=OUT).stdout.split()[-1]
    rng = random.Random(n)
    root = os.path.join(OUT, "mlruns", exp)
    base = 1_700_000_000_000
    runs, tags, params, metrics, latest, truth = [], [], [], [], [], {}
    for i in range(n):
        rid = uuid.UUID(int=rng.getrandbits(128)).hex
        start = base + i * 10 + rng.randrange(3)  # a few equal start times
        end = start + 5
        name = f"run-{i}"
        runs.append((rid, name, "UNKNOWN", "", "", "unknown", "FINISHED", start, end, "", "active",
                     f"{root}/{rid}/artifacts", int(exp), None))
        tags.append(("mlflow.runName", name, rid))
        p = {"model": rng.choice(["rf", "gb", "lr"]), "lr": str(rng.choice([0.01, 0.1, 0.3])),
             "depth": str(rng.randrange(2, 10))}
        params += [(k, v, rid) for k, v in p.items()]
        m = {"acc": round(rng.random(), 3), "loss": round(rng.random(), 4), "f1": round(rng.random(), 4)}
        for k, v in m.items():
            metrics.append((k, v, start, rid, 0, 0))
            latest.append((k, v, start, 0, 0, rid))
        truth[rid] = {"metrics": m, "params": p, "name": name, "start": start, "end": end}
    db = sqlite3.connect(path)
    with db:
        db.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
                       "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, "
                       "experiment_id, deleted_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", runs)
        db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)", tags)
        db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", params)
        db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                       "VALUES (?,?,?,?,?,?)", metrics)
        db.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                       "VALUES (?,?,?,?,?,?)", latest)
    db.close()
    # MLflow reads them back as written.
    sample = rng.sample(sorted(truth), 5)
    got = json.loads(subprocess.run([PY, "-c", CHECK, uri, exp, json.dumps(sample)], env=ENV, check=True,
                                    capture_output=True, text=True, cwd=OUT).stdout.splitlines()[-1])
    for rid in sample:
        t, g = truth[rid], got[rid]
        assert g["metrics"] == t["metrics"] and g["params"] == t["params"], (t, g)
        assert (g["name"], g["status"], g["start"], g["end"]) == (t["name"], "FINISHED", t["start"], t["end"]), g
        assert g["history"] == [[t["metrics"]["acc"], 0, t["start"]]], g
    count = sum(1 for t in truth.values() if t["metrics"]["acc"] > 0.95)
    assert got["count"] == count, (got["count"], count)
    return uri, exp


def timed(cmd, reps):
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, cwd=OUT)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            sys.exit(f"{cmd[0]} failed: {p.stderr.strip()[-400:]}")
        out = p.stdout
    return sorted(times)[len(times) // 2], times, out


def mlx_ids(stdout):
    return [r["run_id"] for r in json.loads(stdout)]


for n in SIZES:
    path = os.path.join(OUT, f"mlflow-{n}.db")
    if os.path.exists(path) and os.environ.get("REUSE") == "1":  # a database an earlier run made
        uri = "sqlite:///" + path
        exp = str(sqlite3.connect(path).execute("SELECT experiment_id FROM experiments WHERE name = 'bench'")
                  .fetchone()[0])
    else:
        if os.path.exists(path):
            os.remove(path)
        t0 = time.perf_counter()
        uri, exp = make(path, n)
        print(f"n={n}: database made and checked in {time.perf_counter() - t0:.1f} s", flush=True)
    if os.environ.get("MAKE_ONLY") == "1":
        continue
    mlx = [MLX, "--tracking-uri", uri, "runs", "list", "-e", "bench", "-o", "json"]
    for what, args in [("top10", ["--filter", "metrics.acc > 0.5", "--order-by", "metrics.acc DESC",
                                  "--max", "10"]),
                       ("newest1000", ["--max", "1000"])]:
        m_med, m_times, m_out = timed(mlx + args, 11)
        f_med, f_times, f_out = timed([PY, "-c", SEARCH, uri, exp, what], 3 if n <= 10_000 else 1)
        same = mlx_ids(m_out) == json.loads(f_out.splitlines()[-1])
        print(f"n={n} {what}: mlx {m_med * 1000:.0f} ms (runs {[round(t * 1000) for t in m_times]}), "
              f"mlflow {f_med:.2f} s (runs {[round(t, 2) for t in f_times]}), "
              f"x{f_med / m_med:.0f}, same answer: {same}", flush=True)
        if not same:
            sys.exit("the answers differ")
print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
