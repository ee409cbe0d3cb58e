"""mlx's Python worker: loads one MLflow model with ``mlflow.pyfunc.load_model`` and answers predict requests.

Started by mlx (``python -B -c <this file> MODEL_DIR``) in a folder of its own; see ``src/ml/pyworker.rs`` for
the wire protocol. Frames are a 4-byte big-endian length, then that many bytes of UTF-8 JSON, on the stdin
and stdout mlx gave the process. The model's own prints go to stderr: file descriptor 1 is pointed there
before the model is loaded, and the frames use a private duplicate of the original stdout.
"""

import json
import os
import struct
import sys


def _last_line(exc):
    text = f"{type(exc).__name__}: {exc}".strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def main():
    model_dir = sys.argv[1]
    # The protocol's own stdout; fd 1 (and sys.stdout) become stderr so nothing the model prints can break it.
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer

    def send(doc):
        data = json.dumps(doc, cls=encoder, allow_nan=True).encode()
        out.write(struct.pack(">I", len(data)) + data)

    def read_frame():
        head = inp.read(4)
        if len(head) < 4:
            return None
        (n,) = struct.unpack(">I", head)
        body = inp.read(n)
        if len(body) < n:
            return None
        return json.loads(body)

    encoder = json.JSONEncoder
    try:
        import pandas as pd
        import mlflow.pyfunc
        from mlflow.utils.proto_json_utils import NumpyEncoder, _get_jsonable_obj

        encoder = NumpyEncoder
        model = mlflow.pyfunc.load_model(model_dir)
    except BaseException as exc:  # noqa: BLE001 - every failure is reported, as one line
        send({"error": _last_line(exc)})
        return 2
    send({"ready": True, "pid": os.getpid()})
    while True:
        req = read_frame()
        if req is None:
            return 0
        try:
            df = pd.DataFrame({name: values for name, values in zip(req["columns"], req["values"])})
            params = req.get("params")
            raw = model.predict(df, params=params) if params else model.predict(df)
            preds = _get_jsonable_obj(raw, pandas_orient="records")
            rows = len(preds) if isinstance(preds, list) else None
            send({"predictions": preds, "rows": rows})
        except Exception as exc:  # noqa: BLE001 - the model's error goes back to the request
            send({"error": _last_line(exc)})


sys.exit(main())
