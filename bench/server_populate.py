#!/usr/bin/env python3
"""Populate an MLflow tracking server's database in-process, through MLflow's own SQL store and its ORM
models (far faster than over HTTP): one experiment with N runs of 10 params, 5 metrics and 3 tags each
(the workload of issue #20, values from store_populate.py). Point it at the database the server uses (`--backend-store-uri`).

Usage: server_populate.py DB_URI EXPERIMENT N [--seed 0]
Prints {"experiment_id": ..., "runs": N, "seconds": S}.
"""
import argparse, json, logging, os, random, sys, time, uuid, warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from store_populate import run_values  # the same runs as the file-store benchmarks

ap = argparse.ArgumentParser()
ap.add_argument("db_uri")
ap.add_argument("experiment")
ap.add_argument("n", type=int)
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()

t0 = time.perf_counter()
store = SqlAlchemyStore(a.db_uri, "mlflow-artifacts:/")
exp = store.get_experiment_by_name(a.experiment)
exp_id = exp.experiment_id if exp else store.create_experiment(a.experiment)
location = store.get_experiment(exp_id).artifact_location.rstrip("/")
rng = random.Random(a.seed)
base = int(time.time() * 1000) - a.n * 1000
CHUNK = 1000
for lo in range(0, a.n, CHUNK):
    rows = []
    for i in range(lo, min(a.n, lo + CHUNK)):
        rid = uuid.uuid4().hex
        start = base + i * 1000
        rows.append(SqlRun(run_uuid=rid, name=f"run-{i}", source_type="LOCAL", source_name="",
                           entry_point_name="", user_id="bench", status="FINISHED", start_time=start,
                           end_time=start + 500, source_version="", lifecycle_stage="active",
                           artifact_uri=f"{location}/{rid}/artifacts", experiment_id=int(exp_id)))
        params, metrics, _, tags = run_values(rng, i)
        rows += [SqlParam(run_uuid=rid, key=k, value=v) for k, v in params.items()]
        for k, v in metrics.items():
            rows.append(SqlMetric(run_uuid=rid, key=k, value=v, timestamp=start, step=0, is_nan=False))
            rows.append(SqlLatestMetric(run_uuid=rid, key=k, value=v, timestamp=start, step=0, is_nan=False))
        tags["mlflow.runName"] = f"run-{i}"
        rows += [SqlTag(run_uuid=rid, key=k, value=v) for k, v in tags.items()]
    with store.ManagedSessionMaker() as session:
        session.add_all(rows)
json.dump({"experiment_id": exp_id, "runs": a.n, "seconds": round(time.perf_counter() - t0, 1)}, sys.stdout)
print()
