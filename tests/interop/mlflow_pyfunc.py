"""The python_function flavor of mlx models, through the real MLflow client (3.17.2).

    python mlflow_pyfunc.py SPEC.json load|serve|spark

SPEC.json (written by tests/it/pyfunc.rs): {"store": ROOT, "models": [{"name", "data", "expected"}...],
"serve": [{"name", "data", "mlx_url"}...]}. `expected` is `mlx predict --with-proba --output json` on the same
file. Each mode prints one JSON line of what it checked and exits 1 on the first difference.
"""

import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TOL = 1e-9


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def close(a, b):
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


def read_rows(model_uri, data):
    """The CSV as a user reads it, string columns of the signature as text."""
    signature = mlflow.models.Model.load(model_uri).signature
    cols = signature.inputs.input_names()
    types = {c.name: c.type.name for c in signature.inputs.inputs}
    df = pd.read_csv(data, dtype={c: str for c, t in types.items() if t == "string"})
    return df[cols]


def same_values(name, got, expected):
    if len(got) != len(expected):
        fail(f"{name}: {len(got)} predictions, mlx gave {len(expected)}")
    for i, (g, e) in enumerate(zip(got, expected)):
        if isinstance(e, str) or isinstance(g, str):
            ok = g == e
        elif isinstance(e, int) and not isinstance(e, bool):
            ok = isinstance(g, (int, np.integer)) and int(g) == e
        else:
            ok = close(float(g), float(e))
        if not ok:
            fail(f"{name}: row {i}: pyfunc {g!r} ({type(g).__name__}), mlx {e!r} ({type(e).__name__})")


def uri_of(m):
    return m.get("uri") or f"models:/{m['name']}@Champion"


def check_load(spec):
    checked = []
    for m in spec["models"]:
        uri = uri_of(m)
        model = mlflow.pyfunc.load_model(uri)
        df = read_rows(uri, m["data"])
        exp = m["expected"]["predictions"]
        classifier = bool(exp) and isinstance(exp[0], dict)
        labels = [e["prediction"] if classifier else e for e in exp]
        got = model.predict(df)
        got_list = got.tolist()
        same_values(m["name"], got_list, labels)
        if classifier:
            proba = model.predict(df, params={"predict_proba": True})
            classes = list(exp[0]["proba"].keys())
            if list(proba.columns) != [f"proba_{c}" for c in classes]:
                fail(f"{m['name']}: probability columns {list(proba.columns)} for classes {classes}")
            for i, e in enumerate(exp):
                for c in classes:
                    if not close(float(proba[f"proba_{c}"].iloc[i]), e["proba"][c]):
                        fail(f"{m['name']}: row {i} class {c}: {proba[f'proba_{c}'].iloc[i]} vs {e['proba'][c]}")
        checked.append({"name": m["name"], "rows": len(labels), "dtype": str(np.asarray(got).dtype)})
    # Bad input: mlx's message, as a Python exception.
    for bad in spec.get("bad", []):
        model = mlflow.pyfunc.load_model(uri_of(bad))
        df = pd.DataFrame(bad["rows"])
        try:
            model.predict(df)
        except Exception as e:  # noqa: BLE001 — the message is what is checked
            if bad["message"] not in str(e):
                fail(f"bad input: {e!s} does not contain {bad['message']!r}")
            checked.append({"bad_input": str(e)})
        else:
            fail(f"bad input {bad['rows']} predicted without an error")
    print(json.dumps(checked))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.status, json.loads(r.read())


def wait_ping(url, proc, deadline_s=180):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            fail(f"mlflow models serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/ping", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    fail(f"mlflow models serve did not answer /ping within {deadline_s} s")


def check_serve(spec):
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    checked = []
    for m in spec["serve"]:
        uri = uri_of(m)
        df = read_rows(uri, m["data"])
        body = json.dumps({"dataframe_split": json.loads(df.to_json(orient="split", index=False))}).encode()
        port = free_port()
        proc = subprocess.Popen(
            [os.path.join(bindir, "mlflow"), "models", "serve", "-m", uri, "--env-manager", "local",
             "-h", "127.0.0.1", "-p", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ping(url, proc)
            status, theirs = post(url + "/invocations", body)
            mstatus, ours = post(m["mlx_url"] + "/invocations", body)
            if status != 200 or mstatus != 200:
                fail(f"{m['name']}: status mlflow {status}, mlx {mstatus}")
            same_values(m["name"] + " (serve)", theirs["predictions"], ours["predictions"])
            if m.get("proba"):
                pbody = json.loads(body)
                pbody["params"] = {"predict_proba": True}
                _, proba = post(url + "/invocations", json.dumps(pbody).encode())
                exp = m["expected"]["predictions"]
                for i, e in enumerate(exp):
                    for c, p in e["proba"].items():
                        if not close(proba["predictions"][i][f"proba_{c}"], p):
                            fail(f"{m['name']}: served probability row {i} class {c}")
            checked.append({"name": m["name"], "rows": len(df)})
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=60)
    print(json.dumps(checked))


def check_spark(spec):
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    checked = []
    try:
        by_data = {}
        for m in spec["models"]:
            by_data.setdefault(m["data"], []).append(m)
        for data, models in by_data.items():
            pdf = pd.read_csv(data)
            sdf = spark.createDataFrame(pdf.astype(object).where(pdf.notna(), None))
            cols = []
            for i, m in enumerate(models):
                uri = uri_of(m)
                inputs = mlflow.models.Model.load(uri).signature.inputs.input_names()
                exp = m["expected"]["predictions"]
                classifier = bool(exp) and isinstance(exp[0], dict)
                labels = [e["prediction"] if classifier else e for e in exp]
                rtype = "string" if labels and isinstance(labels[0], str) else (
                    "long" if labels and isinstance(labels[0], int) else "double")
                udf = mlflow.pyfunc.spark_udf(spark, uri, result_type=rtype, env_manager="local")
                cols.append(udf(*inputs).alias(f"p{i}"))
            rows = sdf.select(*cols).toPandas()
            for i, m in enumerate(models):
                exp = m["expected"]["predictions"]
                labels = [e["prediction"] if isinstance(e, dict) else e for e in exp]
                same_values(m["name"] + " (spark)", [v.item() if hasattr(v, "item") else v for v in rows[f"p{i}"]], labels)
                checked.append({"name": m["name"], "rows": len(rows)})
    finally:
        spark.stop()
    print(json.dumps(checked))


if __name__ == "__main__":
    spec = json.load(open(sys.argv[1]))
    mlflow.set_tracking_uri("file://" + spec["store"])
    {"load": check_load, "serve": check_serve, "spark": check_spark}[sys.argv[2]](spec)
