"""MLflow ``python_function`` loader for models trained by mlx (written by mlx into the model's ``code/``).

It reads ``model.json`` (preprocessing and plain fitted state) and ``trees.bin`` (tree models) and replays
what ``mlx predict`` does, with numpy and pandas only:

    model = mlflow.pyfunc.load_model("models:/churn@Champion")
    model.predict(df)                                   # labels (classification) or values (regression)
    model.predict(df, params={"predict_proba": True})   # one column per class: proba_<label>

Bad input raises ``MlxInputError`` (a ``ValueError``) with mlx's message: ``column 'Sex', row 3: ...``
(rows are numbered from 0, as ``mlx serve`` numbers the rows of a request).
"""

import json
import os

import numpy as np
import pandas as pd

FORMAT_VERSION = 1
_LEAF = 0xFFFF
# Set in an internal node's feature when missing values go left (gradient boosting).
_NAN_LEFT = 0x8000
_NODE = np.dtype([("feature", "<u2"), ("threshold", "<f4"), ("next", "<u4")])


class MlxInputError(ValueError):
    """Input the model cannot predict on (a missing column, an unknown category, a missing value...)."""


class MlxModelError(ValueError):
    """A model folder that is damaged or newer than this loader."""


def _load_pyfunc(path, model_config=None):
    """MLflow's entry point: ``path`` is the model folder."""
    return MlxModel(path)


def _rust_debug(s):
    """A string quoted as mlx quotes it in messages (Rust's ``{:?}``)."""
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _format_number(x):
    """A number as mlx writes it for lookups: integers without a point, else the shortest round-trip text."""
    x = float(x)
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return np.format_float_positional(x, unique=True, trim="-")


def _key(value):
    """A cell as a lookup key: text as is, booleans as pandas prints them (mlx learns a column of
    ``True``/``False`` so), numbers formatted as mlx formats them."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    return _format_number(value)


def _read_trees(path, n_features, n_outputs, n_trees):
    """Decode ``trees.bin`` (see the README's model format), checking every index as mlx does."""
    with open(path, "rb") as f:
        data = f.read()

    def fail(why):
        raise MlxModelError(f"{path}: {why}")

    if data[:4] != b"MLXT":
        fail("not an mlx tree file")
    if len(data) < 8:
        fail("the tree file is truncated")
    count = int(np.frombuffer(data, "<u4", 1, 4)[0])
    at = 8
    trees = []
    for _ in range(count):
        if at + 8 > len(data):
            fail("the tree file is truncated")
        n_nodes, n_values = (int(v) for v in np.frombuffer(data, "<u4", 2, at))
        at += 8
        if at + n_nodes * 10 + n_values * 4 > len(data):
            fail("the tree file is truncated")
        nodes = np.frombuffer(data, _NODE, n_nodes, at)
        at += n_nodes * 10
        values = np.frombuffer(data, "<f4", n_values, at)
        at += n_values * 4
        if n_nodes == 0:
            fail("a tree has no nodes")
        feature = nodes["feature"].astype(np.int64)
        nxt = nodes["next"].astype(np.int64)
        leaf = feature == _LEAF
        idx = np.arange(n_nodes)
        ok = np.where(
            leaf,
            nxt + n_outputs <= n_values,
            ((feature & ~_NAN_LEFT) < n_features) & (nxt < n_nodes) & (nxt > idx + 1) & (idx + 1 < n_nodes),
        )
        if not ok.all():
            fail(f"node {int(np.argmin(ok))} of a tree is invalid")
        trees.append((feature, nodes["threshold"].copy(), nxt, values.astype(np.float64)))
    if len(trees) != n_trees:
        fail(f"{len(trees)} trees, expected {n_trees}")
    return trees


class _Forest:
    """Trees walked for a block of rows at a time (the block's features stay in cache), tree by tree, level
    by level for all rows at once. Leaves point to themselves, so a row that reached its leaf stays there;
    rows are dropped from the walk every few levels once they sit on a leaf."""

    def __init__(self, trees, n_outputs):
        self.n_outputs = n_outputs
        self.trees = []
        for feature, threshold, nxt, values in trees:
            idx = np.arange(len(feature))
            leaf = feature == _LEAF
            nan_left = ~leaf & ((feature & _NAN_LEFT) != 0)
            feature = feature & ~_NAN_LEFT
            # children[2i] = left (the next node), children[2i+1] = right; a leaf compares against +inf
            # and goes "left" to itself.
            children = np.stack([np.where(leaf, idx, idx + 1), np.where(leaf, idx, nxt)], axis=1)
            self.trees.append(
                (
                    np.where(leaf, 0, feature).astype(np.intp),
                    np.where(leaf, np.float32(np.inf), threshold).astype(np.float32),
                    children.ravel().astype(np.intp),
                    leaf,
                    np.where(leaf, nxt, -1).astype(np.intp),
                    values,
                    nan_left,
                )
            )

    def _leaves(self, x, block):
        """For blocks of rows: (block slice, tree index, leaf value offset per row) for every tree in order.
        Rows go left when f32(x) <= threshold, as in mlx; a missing value (NaN) goes where the node says
        (right unless gradient boosting learned left)."""
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        n, nf = x32.shape
        any_nan = bool(np.isnan(x32).any())
        for start in range(0, n, block):
            flat = x32[start : start + block].ravel()
            nb = len(flat) // max(1, nf)
            row_base = np.arange(nb, dtype=np.intp) * nf
            for t, (feature, threshold, children, is_leaf, leaf_at, values, nan_left) in enumerate(self.trees):
                node = np.zeros(nb, dtype=np.intp)
                base = row_base
                slot = np.arange(nb)
                leaf_of = np.empty(nb, dtype=np.intp)
                while node.size:
                    for _ in range(4):
                        v = flat[base + feature[node]]
                        right = v > threshold[node]
                        if any_nan:
                            right |= np.isnan(v) & ~nan_left[node]
                        node = children[2 * node + right]
                    done = is_leaf[node]
                    if done.any():
                        leaf_of[slot[done]] = leaf_at[node[done]]
                        keep = ~done
                        node, base, slot = node[keep], base[keep], slot[keep]
                yield slice(start, start + nb), t, leaf_of

    def predict(self, x, block=16384):
        """Mean of the trees' leaf values: (n_rows, n_outputs), summed tree by tree in mlx's order, so the
        sums are the same to the bit."""
        # Class-major (outputs × rows): numpy is slow over a last axis of two or three.
        out = np.zeros((self.n_outputs, x.shape[0]))
        for rows, t, leaf_of in self._leaves(x, block):
            values = self.trees[t][5]
            for o in range(self.n_outputs):
                out[o, rows] += values[leaf_of + o]
        return (out / max(1, len(self.trees))).T

    def raw_scores(self, x, per_iteration, base, block=16384):
        """Gradient boosting's raw scores, (n_rows, per_iteration): tree t adds its leaf value to class
        t % per_iteration, in mlx's order, then the base score is added."""
        out = np.zeros((per_iteration, x.shape[0]))
        for rows, t, leaf_of in self._leaves(x, block):
            out[t % per_iteration, rows] += self.trees[t][5][leaf_of]
        return (out + np.asarray(base, dtype=np.float64)[:, None]).T


class MlxModel:
    """A loaded mlx model: ``predict(df, params=None)``."""

    def __init__(self, path):
        json_path = os.path.join(path, "model.json")
        with open(json_path, encoding="utf-8") as f:
            m = json.load(f)
        if m.get("format_version", 0) > FORMAT_VERSION:
            raise MlxModelError(
                f"{json_path}: format version {m['format_version']} is newer than this loader understands"
            )
        self.path = path
        self.task = m["task"]
        self.classes = list(m.get("classes") or [])
        self.label_type = m.get("label_type", "string")
        pre = m["preprocessor"]
        self.inputs = pre["inputs"]
        self.steps = pre["steps"]
        self.na = pre["na"]
        self.n_features = len(pre["feature_names"])
        fitted = m["fitted"]
        self.kind = fitted["kind"]
        self.fitted = fitted
        n_out = len(self.classes) if self.task == "classification" else 1
        if self.kind == "linear":
            self.coef = np.array(fitted["coef"], dtype=np.float64).reshape(-1, self.n_features)
            self.intercept = np.array(fitted["intercept"], dtype=np.float64)
        elif self.kind == "trees":
            trees = _read_trees(
                os.path.join(path, "trees.bin"), self.n_features, n_out, fitted["n_trees"]
            )
            self.forest = _Forest(trees, n_out)
        elif self.kind == "boosted":
            self.per_iteration = int(fitted["per_iteration"])
            self.base_score = [float(b) for b in fitted["base_score"]]
            trees = _read_trees(os.path.join(path, "trees.bin"), self.n_features, 1, fitted["n_trees"])
            self.forest = _Forest(trees, 1)
        elif self.kind == "knn":
            self.k = int(fitted["k"])
            self.train_x = np.array(fitted["x"], dtype=np.float64).reshape(-1, self.n_features)
            self.train_y = np.array(fitted["y"], dtype=np.float64)
        elif self.kind == "gaussian_nb":
            self.means = np.array(fitted["means"], dtype=np.float64)
            self.vars = np.array(fitted["vars"], dtype=np.float64)
            self.priors = np.array(fitted["priors"], dtype=np.float64)
        else:
            raise MlxModelError(f"{json_path}: unknown fitted state {self.kind!r}")
        if self.task == "classification":
            self.labels = self._labels()

    def _labels(self):
        """Class labels typed as the target was: ints stay ints, strings stay strings."""
        if self.label_type != "string":
            try:
                return np.array([int(c) for c in self.classes], dtype=np.int64)
            except ValueError:
                try:
                    return np.array([float(c) for c in self.classes], dtype=np.float64)
                except ValueError:
                    pass
        return np.array(self.classes, dtype=object)

    # --- preprocessing -------------------------------------------------------------------------------

    def transform(self, df, row_offset=0):
        """The feature matrix mlx builds from ``df`` (rows numbered from ``row_offset`` in messages)."""
        if not isinstance(df, pd.DataFrame):
            df = pd.DataFrame(df)
        n = len(df)
        columns = set(df.columns)
        for step in self.steps:
            if step["column"] not in columns:
                raise MlxInputError(
                    f"column '{step['column']}' is not in the data (columns: {', '.join(str(c) for c in df.columns)})"
                )
        # Numeric inputs of numeric dtype are converted in one copy, feature rows contiguous. When every step
        # is such a column, that copy is the feature matrix (transformed in place); otherwise the features
        # are built row by row into `out` (a column write into a row-major matrix would touch a cache line
        # per cell) and returned transposed.
        dtypes = df.dtypes
        numeric = [
            st["column"]
            for st in self.steps
            if st["kind"] == "numeric"
            and pd.api.types.is_numeric_dtype(dtypes[st["column"]])
            and not pd.api.types.is_bool_dtype(dtypes[st["column"]])
        ]
        block = {}
        unique = numeric and len(set(numeric)) == len(numeric) and df.columns.is_unique
        if unique and len(numeric) == len(self.steps) == self.n_features:
            return self._all_numeric(df, numeric, row_offset)
        if unique:
            values = np.array(df[numeric].to_numpy(dtype=np.float64, na_value=np.nan).T, order="C")
            block = dict(zip(numeric, values))
        out = np.zeros((self.n_features, n))
        at = 0
        for step in self.steps:
            name = step["column"]
            kind = step["kind"]
            if kind == "numeric" and name in block:
                out[at] = self._numeric(None, step, row_offset, block[name])
                at += 1
                continue
            col = df[name]
            if kind == "numeric":
                out[at] = self._numeric(col, step, row_offset)
                at += 1
            elif kind == "one_hot":
                cats = step["categories"]
                idx, missing = self._lookup(col, cats)
                if self.na == "drop" and missing.any():
                    self._missing(name, missing, row_offset)
                hit = idx >= 0
                out[at + idx[hit], np.nonzero(hit)[0]] = 1.0
                at += len(cats)
            else:
                if kind == "mapped":
                    keys = list(step["map"].keys())
                    idx, missing = self._lookup(col, keys, step["map"])
                    values = np.array(list(step["map"].values()), dtype=np.float64)
                    unknown = ~missing & (idx < 0)
                    codes = ", ".join(_format_number(c) for c in sorted(set(values.tolist())))
                    why = "unknown value {} (known: " + ", ".join(keys) + ", or their codes " + codes + ")"
                else:  # ordinal
                    idx, missing = self._lookup(col, step["categories"])
                    values = np.arange(len(step["categories"]), dtype=np.float64)
                    unknown = ~missing & (idx < 0)
                    why = "unknown category {}"
                x = values[np.where(idx < 0, 0, idx)] if len(values) else np.zeros(n)
                first_bad = self._first(unknown)
                first_missing = self._first(missing) if step.get("fill") is None and self.na != "keep" else None
                if first_bad is not None and (first_missing is None or first_bad < first_missing):
                    raise MlxInputError(
                        f"column '{name}', row {first_bad + row_offset}: "
                        + why.format(_rust_debug(_key(col.iloc[first_bad])))
                    )
                if first_missing is not None:
                    self._missing(name, missing, row_offset)
                if step.get("fill") is not None:
                    x = np.where(missing, step["fill"], x)
                elif self.na == "keep":
                    x = np.where(missing, np.nan, x)
                out[at] = self._scaled(x, step)
                at += 1
        return out.T

    def _all_numeric(self, df, columns, row_offset):
        """The common case, every feature a numeric column. pandas hands over the frame's float block
        without a copy (features as contiguous rows); each feature is checked for missing values and
        scaled with the same two roundings per cell as (x - mean) / std, one feature at a time so the
        row is still in cache for the second pass. With nothing to fill or scale the frame's own data is
        the matrix (read only here, as in scikit-learn). Rows × features."""
        xt = df[columns].to_numpy(dtype=np.float64, na_value=np.nan).T
        if not xt.flags.c_contiguous:  # mixed dtypes: pandas built the matrix rows-first
            xt = np.ascontiguousarray(xt)
        out = None
        for f, step in enumerate(self.steps):
            row = xt[f]
            missing = np.isnan(row)
            has_missing = missing.any() and self.na != "keep"  # keep: gradient boosting routes NaN
            if has_missing and step.get("fill") is None:
                self._missing(step["column"], missing, row_offset)
            scale = step.get("scale")
            if not has_missing and scale is None and out is None:
                continue
            if out is None:
                out = np.empty(xt.shape)
                out[:f] = xt[:f]
            target = out[f]
            np.copyto(target, row)
            if has_missing:
                target[missing] = step["fill"]
            if scale is not None:
                target -= scale[0]
                target /= scale[1]
        return (xt if out is None else out).T

    @staticmethod
    def _first(mask):
        hits = np.flatnonzero(mask)
        return int(hits[0]) if hits.size else None

    def _missing(self, name, missing, row_offset):
        row = self._first(missing)
        raise MlxInputError(
            f"column '{name}', row {row + row_offset}: missing value (the model was trained with --na drop)"
        )

    @staticmethod
    def _scaled(x, step):
        scale = step.get("scale")
        return x if scale is None else (x - scale[0]) / scale[1]

    def _numeric(self, col, step, row_offset, converted=None):
        """One numeric feature. ``converted``, when given, is the column as float64 and may be changed in
        place (it is a private copy)."""
        name = step["column"]
        if converted is not None:
            x = converted
        elif pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
            x = np.array(col.to_numpy(dtype=np.float64, na_value=np.nan))  # a copy: changed in place below
        else:
            # Text or mixed: numbers and numeric text are read as numbers, other text is an error.
            codes, uniques = pd.factorize(col, use_na_sentinel=True)
            lut = np.zeros(len(uniques) + 1)
            lut[-1] = np.nan  # codes == -1 (missing) read the last entry
            bad = []
            for i, u in enumerate(uniques):
                try:
                    lut[i] = float(u.strip()) if isinstance(u, str) else float(u)
                except (TypeError, ValueError):
                    bad.append(i)
            if bad:
                row = self._first(np.isin(codes, bad))
                raise MlxInputError(
                    f"column '{name}', row {row + row_offset}: {_rust_debug(str(col.iloc[row]))} is not a number"
                )
            x = lut[codes]
        missing = np.isnan(x)
        if missing.any() and self.na != "keep":
            if step.get("fill") is None:
                self._missing(name, missing, row_offset)
            x[missing] = step["fill"]
        scale = step.get("scale")
        if scale is not None:
            # In place, the same two roundings as (x - mean) / std.
            x -= scale[0]
            x /= scale[1]
        return x

    @staticmethod
    def _lookup(col, keys, mapping=None):
        """Index of each cell's key in ``keys`` (-1 when unknown) and the mask of missing cells. For a
        ``--map`` column (``mapping``), a cell that is not a source value but one of the codes (0 for
        ``male:0``) reads as the first key with that code, as mlx does."""
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        where = {k: i for i, k in enumerate(keys)}

        def index(u):
            key = _key(u)
            if key in where or mapping is None:
                return where.get(key, -1)
            try:
                x = float(key.strip())
            except ValueError:
                return -1
            return next((i for i, k in enumerate(keys) if mapping[k] == x), -1)

        lut = np.array([index(u) for u in uniques] + [-1], dtype=np.intp)
        # codes == -1 (missing) reads the trailing -1.
        return lut[codes], codes < 0

    # --- estimators ----------------------------------------------------------------------------------

    def predict_proba_matrix(self, x):
        """Class probabilities, (n_rows, n_classes), from a feature matrix."""
        k = len(self.classes)
        n = x.shape[0]
        if self.kind == "linear":
            if self.coef.shape[0] == 1 and k == 2:
                z = x @ self.coef[0] + self.intercept[0]
                p1 = 1.0 / (1.0 + np.exp(-z))
                return np.column_stack([1.0 - p1, p1])
            return _softmax((self.coef @ x.T) + self.intercept[:, None])
        if self.kind == "trees":
            return self.forest.predict(x)
        if self.kind == "boosted":
            z = self.forest.raw_scores(x, self.per_iteration, self.base_score)
            if self.per_iteration == 1:
                p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
                return np.column_stack([1.0 - p1, p1])
            return _softmax(z.T)
        if self.kind == "knn":
            counts = np.zeros((n, k))
            y = self.train_y.astype(np.intp)
            for block, nb, rows, cols in self._neighbours(x):
                counts[block] = np.bincount(rows * k + y[cols], minlength=nb * k).reshape(nb, k)
            return counts / self.k
        if self.kind == "gaussian_nb":
            # Summed feature by feature, then added to the log prior, in mlx's order.
            s = np.zeros((k, n))
            for f in range(x.shape[1]):
                v = self.vars[:, f, None]
                s += -0.5 * np.log(2.0 * np.pi * v) - (x[:, f] - self.means[:, f, None]) ** 2 / (2.0 * v)
            return _softmax(np.log(np.maximum(self.priors, 1e-300))[:, None] + s)
        raise MlxModelError(f"no classifier for {self.kind!r}")

    def predict_values(self, x):
        """Regression values from a feature matrix."""
        if self.kind == "linear":
            return x @ self.coef[0] + self.intercept[0]
        if self.kind == "trees":
            return self.forest.predict(x)[:, 0]
        if self.kind == "boosted":
            return self.forest.raw_scores(x, 1, self.base_score)[:, 0]
        if self.kind == "knn":
            out = np.empty(x.shape[0])
            for block, nb, rows, cols in self._neighbours(x):
                out[block] = np.bincount(rows, weights=self.train_y[cols], minlength=nb) / self.k
            return out
        raise MlxModelError(f"no regressor for {self.kind!r}")

    def _neighbours(self, x, block=512):
        """For blocks of rows: (block, its size, row, training row) pairs of the k nearest training rows,
        exactly as mlx picks them.

        mlx sums squared differences feature by feature and keeps what scikit-learn's brute-force heap
        keeps. Candidates come from one float32 matrix product (|t|² - 2q·t on centred data: fast, but
        only a bound away from the truth), then their distances are recomputed as mlx computes them, so
        the choice is the same to the bit. To avoid partitioning every distance, training rows are taken
        in groups: the k-th smallest of the groups' minima bounds the k-th distance from above (k distinct
        rows are at most that far), so only groups whose minimum is within that bound (plus the error
        bound) can hold a neighbour. The k nearest are those below the k-th distance plus some at it: when
        more rows tie at the k-th distance than fit, the heap's order decides, and the heap is replayed for
        that row over all training rows."""
        t = self.train_x
        n_train, n_feat = t.shape
        k = min(self.k, n_train)
        if n_train == 0 or k == 0:
            return
        cache = getattr(self, "_knn_index", None)
        if cache is None:
            cache = self._knn_index = _KnnIndex(t, k)
        for start in range(0, x.shape[0], block):
            q = np.ascontiguousarray(x[start : start + block])
            nb = q.shape[0]
            rows, cols = cache.candidates(q)
            exact = np.zeros(len(rows))
            for f in range(n_feat):
                diff = t[cols, f] - q[rows, f]
                exact += diff * diff
            # Per row, candidates by (distance, training row): the first k are the nearest, ties by row.
            order = np.lexsort((cols, exact, rows))
            rows, cols, exact = rows[order], cols[order], exact[order]
            starts = np.searchsorted(rows, np.arange(nb))
            take = (np.arange(len(rows)) - starts[rows]) < k
            sel_rows, sel_cols = rows[take], cols[take]
            # Rows where the (k+1)-th candidate ties the k-th: the heap decides which tied rows stay.
            after = np.minimum(starts + k, len(rows) - 1)
            tied = (starts + k < len(rows)) & (rows[after] == np.arange(nb)) & (exact[after] == exact[starts + k - 1])
            if tied.any():
                keep = ~tied[sel_rows]
                extra_rows, extra_cols = [], []
                for r in np.flatnonzero(tied):
                    full = np.zeros(n_train)
                    for f in range(t.shape[1]):
                        diff = t[:, f] - q[r, f]
                        full += diff * diff
                    extra_cols.extend(_heap_nearest(full, k))
                    extra_rows.extend([r] * k)
                sel_rows = np.concatenate([sel_rows[keep], np.array(extra_rows, dtype=np.intp)])
                sel_cols = np.concatenate([sel_cols[keep], np.array(extra_cols, dtype=np.intp)])
            yield slice(start, start + nb), nb, sel_rows, sel_cols

    def predict(self, model_input, params=None):
        """Labels (classification) or values (regression); with ``params={"predict_proba": True}`` a
        DataFrame with one probability column per class, named ``proba_<label>`` as in ``mlx predict``."""
        params = params or {}
        x = self.transform(model_input)
        if self.task == "classification":
            if (
                not params.get("predict_proba")
                and self.kind == "linear"
                and self.coef.shape[0] == 1
                and len(self.classes) == 2
            ):
                # Binary logistic: argmax of [1 - p, p] is class 1 exactly when p > 1 - p (ties and NaN
                # give class 0, as argmax's first maximum does) — without building the two columns.
                p1 = 1.0 / (1.0 + np.exp(-(x @ self.coef[0] + self.intercept[0])))
                return self.labels[(p1 > 1.0 - p1).astype(np.intp)]
            proba = self.predict_proba_matrix(x)
            if params.get("predict_proba"):
                return pd.DataFrame(proba, columns=[f"proba_{c}" for c in self.classes])
            # np.argmax takes the first of equal maxima, as mlx does.
            return self.labels[np.argmax(proba, axis=1)] if len(proba) else self.labels[:0]
        if params.get("predict_proba"):
            raise MlxInputError("predict_proba is for classifiers; this model does regression")
        return self.predict_values(x).astype(np.float64)


class _KnnIndex:
    """The training rows prepared for candidate search: centred, scaled by -2, with |t|² as an extra
    column (so one matrix product gives |t|² - 2q·t), padded to whole groups with rows at +inf (the
    padding is at the end, so every group's first row is a real one)."""

    def __init__(self, t, k):
        n_train, n_feat = t.shape
        self.k = k
        # Groups of training rows; at least ~2k groups so the k-th smallest group minimum exists.
        self.group = max(1, min(64, n_train // (2 * k)))
        self.n_groups = -(-n_train // self.group)
        self.n_train = n_train
        self.centre = t.mean(axis=0)
        tc = t - self.centre
        t_sq = np.einsum("ij,ij->i", tc, tc)
        self.t_norm = float(t_sq.max())
        # Centring rounds each value by up to an ulp of the raw value: a term in the raw norms covers it.
        self.raw_norm = float(np.einsum("ij,ij->i", t, t).max())
        padded = np.zeros((self.n_groups * self.group, n_feat + 1))
        padded[:n_train, :n_feat] = -2.0 * tc
        padded[:n_train, n_feat] = t_sq
        padded[n_train:, n_feat] = np.inf
        self.t64 = np.ascontiguousarray(padded.T)
        self.t32 = self.t64.astype(np.float32)
        # float32 rounding of inputs and products over n_feat + 1 terms, with room to spare.
        self.eps32 = 4.0 * (n_feat + 2) * np.finfo(np.float32).eps
        self.eps64 = 1e-8

    def candidates(self, q):
        """(row, training row) pairs that include every row's k nearest and every row tied with them."""
        nb, n_feat = q.shape
        qc = q - self.centre
        q_aug = np.ones((nb, n_feat + 1))
        q_aug[:, :n_feat] = qc
        q_sq = np.einsum("ij,ij->i", qc, qc)
        q_raw = np.einsum("ij,ij->i", q, q) + self.raw_norm
        found = self._candidates(q_aug.astype(np.float32), self.t32, q_sq, q_raw, self.eps32)
        if found is None:
            # float32 too coarse for this data (huge values, tiny gaps): the same in float64.
            found = self._candidates(q_aug, self.t64, q_sq, q_raw, self.eps64, limit=None)
        return found

    def _candidates(self, q_aug, t_aug, q_sq, q_raw, eps, limit=8):
        nb = q_aug.shape[0]
        g, n_groups, k = self.group, self.n_groups, self.k
        # Group j holds training rows j, j + n_groups, j + 2·n_groups, ...: the minimum over the middle
        # axis runs along whole rows of memory, several times faster than over short runs.
        approx = (q_aug @ t_aug).reshape(nb, g, n_groups)
        group_min = approx.min(axis=1)
        bound = np.partition(group_min, k - 1, axis=1)[:, k - 1].astype(np.float64)
        # Twice the error of one approximate distance: the true k-th is within it of its approximation.
        bound += 2.0 * (eps * (q_sq + self.t_norm) + 1e-12 * q_raw + 1e-300)
        pair_rows, pair_groups = np.nonzero(group_min <= bound[:, None])
        if limit is not None and len(pair_rows) > limit * k * nb + 64:
            return None
        values = approx[pair_rows, :, pair_groups]
        inside = values <= bound[pair_rows][:, None]
        rows = np.broadcast_to(pair_rows[:, None], inside.shape)[inside]
        cols = (pair_groups[:, None] + np.arange(g) * n_groups)[inside]
        return rows, cols


def _heap_nearest(dist, k):
    """Indices kept by scikit-learn's ``heap_push`` (a max-heap of size k; a row enters only when strictly
    nearer than the farthest kept) when the training rows are offered in order, as mlx does."""
    values = [float("inf")] * k
    indices = [-1] * k
    for i, val in enumerate(dist.tolist()):
        if val >= values[0]:
            continue
        current = 0
        while True:
            left = 2 * current + 1
            right = left + 1
            if left >= k:
                break
            if right >= k or values[left] >= values[right]:
                if val < values[left]:
                    swap = left
                else:
                    break
            elif val < values[right]:
                swap = right
            else:
                break
            values[current] = values[swap]
            indices[current] = indices[swap]
            current = swap
        values[current] = val
        indices[current] = i
    return indices


def _softmax(z):
    """Softmax over classes of a class-major (classes × rows) matrix; returns rows × classes."""
    e = np.exp(z - z.max(axis=0))
    return (e / e.sum(axis=0)).T
