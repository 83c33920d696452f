"""Real models for the serving tests, logged through the stock mlflow client.

usage: serving_models.py OUT.json   (MLFLOW_TRACKING_URI names the server)

Registers, in order:
  iris v1   scikit-learn LogisticRegression (C=1.0), converted with skl2onnx
  iris v2   LogisticRegression (C=0.05): other coefficients, other probabilities
  iris v3   the v1 model converted with skl2onnx's default ZipMap output, which
            tract does not run: a version that must fail to load
  linear v1 a two-input ONNX graph built with onnx.helper (no PyTorch):
            y = 2a + 3b + 1, with a column-based signature
Writes, for each good version, held-out rows, their true classes ("truth") and
onnxruntime's outputs on them.
"""

import json
import sys

import mlflow
import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from mlflow.models import infer_signature
from onnx import TensorProto, helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

out_path = sys.argv[1]
mlflow.set_experiment("serving")

X, y = load_iris(return_X_y=True)
rng = np.random.default_rng(7)
order = rng.permutation(len(X))
train, held_out = order[:120], order[120:]
X_train, y_train = X[train].astype(np.float32), y[train]
X_test = X[held_out].astype(np.float32)


def to_onnx(clf, zipmap):
    options = None if zipmap else {id(clf): {"zipmap": False}}
    return convert_sklearn(
        clf, initial_types=[("X", FloatTensorType([None, 4]))], options=options
    )


def reference(model, feed):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return {n: v.tolist() for n, v in zip(names, sess.run(None, feed))}


def log(model, name, **kwargs):
    with mlflow.start_run():
        info = mlflow.onnx.log_model(model, name="model", registered_model_name=name, **kwargs)
    return info


expected = {"iris": {}, "linear": {}}
for version, c in (("1", 1.0), ("2", 0.05)):
    clf = LogisticRegression(C=c, max_iter=500).fit(X_train, y_train)
    model = to_onnx(clf, zipmap=False)
    log(model, "iris", input_example=X_train[:3])
    expected["iris"][version] = {
        "rows": X_test.tolist(),
        "truth": y[held_out].tolist(),
        **reference(model, {"X": X_test}),
    }

clf = LogisticRegression(C=1.0, max_iter=500).fit(X_train, y_train)
log(to_onnx(clf, zipmap=True), "iris")

# y = 2a + 3b + 1 over two [N, 1] inputs.
graph = helper.make_graph(
    [
        helper.make_node("Mul", ["a", "two"], ["a2"]),
        helper.make_node("Mul", ["b", "three"], ["b3"]),
        helper.make_node("Add", ["a2", "b3"], ["s"]),
        helper.make_node("Add", ["s", "one"], ["y"]),
    ],
    "linear",
    [
        helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 1]),
        helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 1]),
    ],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
    initializer=[
        helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
        helper.make_tensor("three", TensorProto.FLOAT, [], [3.0]),
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
    ],
)
linear = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
linear.ir_version = 8
onnx.checker.check_model(linear)
frame = pd.DataFrame({"a": [0.5, -1.0, 2.25, 10.0], "b": [1.0, 0.0, -0.5, 3.0]}, dtype=np.float32)
ys = reference(
    linear,
    {"a": frame[["a"]].to_numpy(), "b": frame[["b"]].to_numpy()},
)
log(linear, "linear", signature=infer_signature(frame, pd.DataFrame({"y": np.ravel(ys["y"])})))
expected["linear"]["1"] = {"rows": frame.to_dict(orient="records"), **ys}

with open(out_path, "w") as f:
    json.dump(expected, f)
print("logged")
