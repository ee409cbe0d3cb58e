#!/usr/bin/env python3
"""A client written for `mlflow models serve`, run against `mlx serve` (used by mlx's serve interop test).

Usage: scoring_client.py BASE_URL
Sends the requests of ../shared/spec/scoring-protocol.md with `requests` and checks status and body as MLflow
answers them. Prints one line per failed check and exits 1 if any failed.
"""
import json, sys
import requests

base = sys.argv[1].rstrip("/")
failures = []

def check(name, cond, detail=""):
    if not cond:
        failures.append(f"{name}: {detail}")

J = {"Content-Type": "application/json"}
rows = {"columns": ["Pclass", "Sex", "Age", "Fare"], "data": [[3, "male", 22.0, 7.25], [1, "female", 38.0, 71.2833]]}
records = [{"Pclass": 3, "Sex": "male", "Age": 22.0, "Fare": 7.25}, {"Pclass": 1, "Sex": "female", "Age": 38.0, "Fare": 71.2833}]

r = requests.get(base + "/ping"); check("ping", r.status_code == 200 and r.content == b"\n", r.content)
r = requests.get(base + "/health"); check("health", r.status_code == 200 and r.content == b"\n", r.content)
check("ping content type", r.headers["content-type"] == "application/json", r.headers)
r = requests.get(base + "/version"); check("version", r.status_code == 200 and r.text, r.text)
r = requests.get(base + "/invocations"); check("GET invocations", r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"} and r.headers.get("allow") == "POST", r.text)
r = requests.get(base + "/nope"); check("404", r.status_code == 404 and r.json() == {"detail": "Not Found"}, r.text)

ok_bodies = {
    "dataframe_split": {"dataframe_split": rows},
    "dataframe_split with index": {"dataframe_split": dict(rows, index=[0, 1])},
    "dataframe_records": {"dataframe_records": records},
    "instances records": {"instances": records},
    "inputs columnar": {"inputs": {"Pclass": [3, 1], "Sex": ["male", "female"], "Age": [22.0, 38.0], "Fare": [7.25, 71.2833]}},
    "inputs records": {"inputs": records},
    "extra top-level key": {"inputs": records, "foo": 1},
    "params ignored": {"inputs": records, "params": {"k": 1}},
    "ints for doubles": {"dataframe_records": [{"Pclass": 3, "Sex": "male", "Age": 22, "Fare": 7}, records[1]]},
    "extra column": {"dataframe_records": [dict(records[0], Extra=1), records[1]]},
    "columns reordered": {"dataframe_split": {"columns": ["Fare", "Age", "Sex", "Pclass"], "data": [[7.25, 22.0, "male", 3], [71.2833, 38.0, "female", 1]]}},
}
for name, body in ok_bodies.items():
    r = requests.post(base + "/invocations", headers=J, data=json.dumps(body))
    check(name, r.status_code == 200 and r.json() == {"predictions": [0, 1]}, f"{r.status_code} {r.text}")
    check(name + " exact bytes", r.content == b'{"predictions": [0, 1]}', r.content)
r = requests.post(base + "/invocations", json={"dataframe_split": rows})  # requests' json= sets the header
check("json= helper", r.status_code == 200 and r.json()["predictions"] == [0, 1], r.text)
for ct in ["text/csv", "text/csv; charset=utf-8"]:
    r = requests.post(base + "/invocations", headers={"Content-Type": ct}, data="Pclass,Sex,Age,Fare\n3,male,22.0,7.25\n1,female,38.0,71.2833\n")
    check("csv " + ct, r.status_code == 200 and r.json() == {"predictions": [0, 1]}, r.text)
r = requests.post(base + "/invocations", headers={"Content-Type": "application/json; charset=utf-8"}, data=json.dumps({"inputs": records}))
check("json charset", r.status_code == 200, r.text)

def bad(name, body, ctype="application/json", status=400, code=None, contains=None):
    r = requests.post(base + "/invocations", headers={"Content-Type": ctype}, data=body)
    check(name + " status", r.status_code == status, f"{r.status_code} {r.text}")
    if status == 400:
        j = r.json()
        check(name + " shape", {"error_code", "message"} <= set(j), j)
        if code:
            check(name + " code", j["error_code"] == code, j)
        if contains:
            check(name + " message", contains in j["message"], j["message"])
    elif contains:
        check(name + " text", contains in r.text, r.text)

bad("malformed", "{bad", code="BAD_REQUEST", contains="Invalid input. Ensure that input is a valid JSON formatted string.")
bad("empty", "", code="BAD_REQUEST")
bad("no format key", "{}", code="BAD_REQUEST", contains="exactly one of the input fields")
bad("two format keys", json.dumps({"inputs": records, "instances": records}), code="BAD_REQUEST", contains="'inputs'")
bad("top-level list", json.dumps(records), code="BAD_REQUEST", contains="Received a list.")
bad("missing column", json.dumps({"dataframe_records": [{"Pclass": 3, "Sex": "male", "Age": 22.0}]}), code="INVALID_PARAMETER_VALUE", contains="Model is missing inputs ['Fare']")
bad("no rows", json.dumps({"dataframe_records": []}), code="INVALID_PARAMETER_VALUE", contains="Model is missing inputs")
bad("unnamed rows", json.dumps({"inputs": [[3, "male", 22.0, 7.25]]}), code="INVALID_PARAMETER_VALUE", contains="extra inputs")
bad("string in long", json.dumps({"inputs": {"Pclass": ["x"], "Sex": ["male"], "Age": [1.0], "Fare": [1.0]}}), code="BAD_REQUEST", contains="Failed to convert column Pclass to type 'int64'")
bad("split data not a list", json.dumps({"dataframe_split": {"columns": ["Pclass"], "data": 5}}), code="BAD_REQUEST", contains="not a valid dataframe representation")
bad("empty csv", "", ctype="text/csv", code="BAD_REQUEST", contains="No columns to parse from file")
bad("text/plain", "x", ctype="text/plain", status=415, contains="Got 'text/plain'.")
bad("form", "a=b", ctype="application/x-www-form-urlencoded", status=415)
r = requests.post(base + "/invocations", headers=J, data=json.dumps({"dataframe_split": rows}))
check("after errors", r.status_code == 200 and r.json() == {"predictions": [0, 1]}, r.text)

for f in failures:
    print(f)
print(f"{len(failures)} failed checks")
sys.exit(1 if failures else 0)
