"""scikit-learn's classification_report on a run's test predictions.

usage: classification_report.py TEST_PREDICTIONS_CSV
Reads mlx's reports/test_predictions.csv (row, actual, prediction; labels as text) and prints JSON:
{"dict": classification_report(output_dict=True), "text": classification_report()} (zero_division=0).
"""
import json
import sys

import pandas as pd
from sklearn.metrics import classification_report

rows = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
y, pred = rows["actual"], rows["prediction"]
print(json.dumps({
    "dict": classification_report(y, pred, output_dict=True, zero_division=0),
    "text": classification_report(y, pred, zero_division=0),
}))
