"""Cases for the differential wire harness (run.py).

A case is a dict:
  name     unique name
  method   HTTP method
  path     path with query string, already percent-encoded as it goes on the wire
  headers  dict of headers (usually just Content-Type); {} sends none
  body     str or bytes sent as is (may be malformed), or None for no body at all

Paths, headers and bodies may hold `{placeholder}`s (lower-case identifiers in braces)
that the setup phase fills from each server's own answers: {exp_id}, {run_id}, {model_id},
{model_name}, ... (see SETUP). `{sfx}` is a random suffix shared by both servers for one
harness run, so names never collide with an earlier run on the same server. A brace group
that is not a known placeholder (JSON such as `{}` or `{"a": 1}`) is left alone.

Cases run in list order, each on MLflow and then on cairn, so a case may depend on the
state the cases before it left (delete, then delete again).
"""

import json
import urllib.parse

A = "/api/2.0/mlflow"
X = "/ajax-api/2.0/mlflow"
ART = "/api/2.0/mlflow-artifacts"
JSON_CT = {"Content-Type": "application/json"}
TEXT_CT = {"Content-Type": "text/plain"}
FORM_CT = {"Content-Type": "application/x-www-form-urlencoded"}

_UNSET = object()


def J(obj):
    """Compact JSON, as the python client sends it."""
    return json.dumps(obj)


def Q(_path, *pairs, **kw):
    """Path plus a form-encoded query string (repeated keys allowed, placeholders kept)."""
    items = list(pairs) + list(kw.items())
    if not items:
        return _path
    return _path + "?" + urllib.parse.urlencode(items, quote_via=urllib.parse.quote_plus, safe="{}")


CASES = []


def add(name, method, path, body=_UNSET, headers=_UNSET):
    """body: dict/list/number -> JSON; str/bytes -> raw; None -> no body.
    headers default: JSON content type when there is a body, none otherwise."""
    if body is _UNSET:
        body = None
    elif body is not None and not isinstance(body, (str, bytes)):
        body = J(body)
    if headers is _UNSET:
        headers = dict(JSON_CT) if body is not None else {}
    CASES.append({"name": name, "method": method, "path": path, "headers": headers, "body": body})


def post(name, path, body=_UNSET, headers=_UNSET):
    add(name, "POST", path, {} if body is _UNSET else body, headers)


def get(name, path):
    add(name, "GET", path)


def transport_edges(prefix, method, path, valid, full=True):
    """The body/content-type edge cases a client meets, for one JSON endpoint.
    `valid` must be harmless to repeat (the same param value, the same tag)."""
    add(f"{prefix}/no-content-type", method, path, valid, {})
    add(f"{prefix}/text-plain", method, path, valid, TEXT_CT)
    add(f"{prefix}/empty-body", method, path, "")
    add(f"{prefix}/json-array", method, path, "[]")
    if full:
        add(f"{prefix}/form-content-type", method, path,
            urllib.parse.urlencode({k: v for k, v in json.loads(valid).items() if isinstance(v, str)}),
            FORM_CT)
        add(f"{prefix}/ctype-with-charset", method, path, valid,
            {"Content-Type": "application/json; charset=utf-8"})
        add(f"{prefix}/malformed-json", method, path, valid[:-3])
        add(f"{prefix}/json-scalar-number", method, path, "42")
        add(f"{prefix}/json-scalar-string", method, path, '"x"')
        add(f"{prefix}/json-null", method, path, "null")
        add(f"{prefix}/double-encoded", method, path, J(valid))
        extra = json.loads(valid)
        extra["unknown_field_xyz"] = {"nested": [1, 2]}
        add(f"{prefix}/unknown-field", method, path, J(extra))


# --------------------------------------------------------------------------- setup

def _step(name, method, path, body=None, save=None, set=None, headers=None):
    return {"name": name, "method": method, "path": path,
            "body": None if body is None else (body if isinstance(body, str) else J(body)),
            "headers": JSON_CT if headers is None else headers,
            "save": save or {}, "set": set or {}}


SETUP = [
    _step("exp", "POST", A + "/experiments/create",
          {"name": "diff-exp-{sfx}", "tags": [{"key": "et", "value": "ev"}]},
          save={"exp_id": "experiment_id"}, set={"exp_name": "diff-exp-{sfx}"}),
    _step("exp2", "POST", A + "/experiments/create", {"name": "diff-exp2-{sfx}"},
          save={"exp2_id": "experiment_id"}),
    _step("exp3", "POST", A + "/experiments/create", {"name": "diff-exp3-{sfx}"},
          save={"del_exp_id": "experiment_id"}),
    _step("exp3-delete", "POST", A + "/experiments/delete", {"experiment_id": "{del_exp_id}"}),
    _step("run", "POST", A + "/runs/create",
          {"experiment_id": "{exp_id}", "run_name": "main-run", "start_time": 1700000000000,
           "user_id": "diff", "tags": [{"key": "t1", "value": "v1"}]},
          save={"run_id": "run.info.run_id"}),
    _step("run-metric-0", "POST", A + "/runs/log-metric",
          {"run_id": "{run_id}", "key": "m1", "value": 0.5, "timestamp": 1700000000001, "step": 0}),
    _step("run-metric-1", "POST", A + "/runs/log-metric",
          {"run_id": "{run_id}", "key": "m1", "value": 0.25, "timestamp": 1700000000002, "step": 1}),
    _step("run-metric-m2", "POST", A + "/runs/log-metric",
          {"run_id": "{run_id}", "key": "m2", "value": 3, "timestamp": 1700000000003, "step": 0}),
    _step("run-param", "POST", A + "/runs/log-parameter",
          {"run_id": "{run_id}", "key": "p1", "value": "a"}),
    _step("run-tag", "POST", A + "/runs/set-tag", {"run_id": "{run_id}", "key": "t2", "value": "v2"}),
    _step("run-input", "POST", A + "/runs/log-inputs",
          {"run_id": "{run_id}", "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "train"}],
                                              "dataset": {"name": "ds", "digest": "abc123",
                                                          "source_type": "local",
                                                          "source": "{\"uri\": \"/tmp/x\"}",
                                                          "schema": "", "profile": ""}}]}),
    _step("run2", "POST", A + "/runs/create", {"experiment_id": "{exp_id}", "run_name": "run2"},
          save={"run2_id": "run.info.run_id"}),
    _step("run3", "POST", A + "/runs/create", {"experiment_id": "{exp_id}", "run_name": "run3"},
          save={"del_run_id": "run.info.run_id"}),
    _step("run3-delete", "POST", A + "/runs/delete", {"run_id": "{del_run_id}"}),
    _step("run4", "POST", A + "/runs/create", {"experiment_id": "{exp_id}", "run_name": "run4"},
          save={"fin_run_id": "run.info.run_id"}),
    _step("run4-metric", "POST", A + "/runs/log-metric",
          {"run_id": "{fin_run_id}", "key": "m1", "value": 1.5, "timestamp": 1700000000004, "step": 3}),
    _step("run4-finish", "POST", A + "/runs/update",
          {"run_id": "{fin_run_id}", "status": "FINISHED", "end_time": 1700000000100}),
    _step("run5", "POST", A + "/runs/create", {"experiment_id": "{exp2_id}", "run_name": "run5"},
          save={"exp2_run_id": "run.info.run_id"}),
    _step("lm", "POST", A + "/logged-models",
          {"experiment_id": "{exp_id}", "name": "lm", "source_run_id": "{run_id}",
           "params": [{"key": "lp", "value": "1"}], "tags": [{"key": "lt", "value": "1"}]},
          save={"model_id": "model.info.model_id"}),
    _step("lm-ready", "PATCH", A + "/logged-models/{model_id}",
          {"model_id": "{model_id}", "status": "LOGGED_MODEL_READY"}),
    _step("lm2", "POST", A + "/logged-models", {"experiment_id": "{exp_id}", "name": "lm2"},
          save={"model2_id": "model.info.model_id"}),
    _step("outputs", "POST", A + "/runs/outputs",
          {"run_id": "{run_id}", "models": [{"model_id": "{model_id}", "step": 0}]}),
    _step("lm-metric", "POST", A + "/runs/log-batch",
          {"run_id": "{run_id}", "metrics": [{"key": "m1", "value": 0.25, "timestamp": 1700000000002,
                                              "step": 1, "model_id": "{model_id}"}]}),
    _step("artifact-put", "PUT", ART + "/artifacts/{exp_id}/{run_id}/artifacts/dir/hello.txt",
          "hello\n", headers=TEXT_CT),
    _step("lm-artifact-put", "PUT", ART + "/artifacts/{exp_id}/models/{model_id}/artifacts/MLmodel",
          "flavors: {}\n", headers=TEXT_CT),
    _step("rm", "POST", A + "/registered-models/create",
          {"name": "diff-rm-{sfx}", "description": "d", "tags": [{"key": "rt", "value": "rv"}]},
          set={"model_name": "diff-rm-{sfx}"}),
    _step("mv1", "POST", A + "/model-versions/create",
          {"name": "{model_name}", "source": "models:/{model_id}", "run_id": "{run_id}",
           "model_id": "{model_id}"}),
    _step("mv2", "POST", A + "/model-versions/create",
          {"name": "{model_name}", "source": "mlflow-artifacts:/{exp_id}/{run_id}/artifacts/model",
           "run_id": "{run_id}", "tags": [{"key": "vt", "value": "vv"}]}),
    _step("alias", "POST", A + "/registered-models/alias",
          {"name": "{model_name}", "alias": "champ", "version": "1"}),
    _step("rm2", "POST", A + "/registered-models/create", {"name": "diff-rm2-{sfx}"},
          set={"model2_name": "diff-rm2-{sfx}"}),
    _step("rm2-v1", "POST", A + "/model-versions/create",
          {"name": "{model2_name}", "source": "s3://bucket/rm2/1"}),
    _step("rm2-v2", "POST", A + "/model-versions/create",
          {"name": "{model2_name}", "source": "s3://bucket/rm2/2"}),
    _step("rm3", "POST", A + "/registered-models/create", {"name": "diff-rm3-{sfx}"},
          set={"model3_name": "diff-rm3-{sfx}"}),
    _step("prompt", "POST", A + "/registered-models/create",
          {"name": "diff-prompt-{sfx}", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]},
          set={"prompt_name": "diff-prompt-{sfx}"}),
    _step("prompt-v1", "POST", A + "/model-versions/create",
          {"name": "{prompt_name}", "source": "s3://bucket/prompt/1"}),
]

NO_RUN = "0123456789abcdef0123456789abcdef"
NO_MODEL = "m-0123456789abcdef0123456789abcdef"
K251 = "k" * 251
K250 = "k" * 250

# --------------------------------------------------------------------------- experiments

post("exp-create/ok", A + "/experiments/create", {"name": "diff-c1-{sfx}"})
post("exp-create/with-tags-location", A + "/experiments/create",
     {"name": "diff-c2-{sfx}", "artifact_location": "s3://bucket/c2",
      "tags": [{"key": "a", "value": "b"}]})
post("exp-create/duplicate", A + "/experiments/create", {"name": "{exp_name}"})
post("exp-create/missing-name", A + "/experiments/create", {})
post("exp-create/empty-name", A + "/experiments/create", {"name": ""})
post("exp-create/name-number", A + "/experiments/create", {"name": 123})
post("exp-create/name-null", A + "/experiments/create", {"name": None})
post("exp-create/name-list", A + "/experiments/create", {"name": ["a"]})
post("exp-create/name-501", A + "/experiments/create", {"name": "n" * 501})
post("exp-create/name-huge", A + "/experiments/create", {"name": "n" * 100000})
post("exp-create/tags-object", A + "/experiments/create", {"name": "diff-c3-{sfx}", "tags": {"a": "b"}})
post("exp-create/tag-missing-value", A + "/experiments/create",
     {"name": "diff-c4-{sfx}", "tags": [{"key": "a"}]})
post("exp-create/tag-key-251", A + "/experiments/create",
     {"name": "diff-c5-{sfx}", "tags": [{"key": K251, "value": "v"}]})
post("exp-create/tag-value-20001", A + "/experiments/create",
     {"name": "diff-c6-{sfx}", "tags": [{"key": "a", "value": "v" * 20001}]})
post("exp-create/camel-case", A + "/experiments/create",
     {"name": "diff-c7-{sfx}", "artifactLocation": "s3://bucket/c7"})
post("exp-create/both-spellings", A + "/experiments/create",
     {"name": "diff-c8-{sfx}", "artifact_location": "s3://a", "artifactLocation": "s3://b"})
transport_edges("exp-create", "POST", A + "/experiments/create", J({"name": "{exp_name}"}))
get("exp-create/wrong-method-get", A + "/experiments/create")
post("exp-create/ajax", X + "/experiments/create", {"name": "diff-c9-{sfx}"})

get("exp-get/ok", Q(A + "/experiments/get", experiment_id="{exp_id}"))
get("exp-get/default", Q(A + "/experiments/get", experiment_id="0"))
get("exp-get/ajax", Q(X + "/experiments/get", experiment_id="{exp_id}"))
get("exp-get/missing-id", A + "/experiments/get")
get("exp-get/not-a-number", Q(A + "/experiments/get", experiment_id="abc"))
get("exp-get/nonexistent", Q(A + "/experiments/get", experiment_id="999999"))
get("exp-get/negative", Q(A + "/experiments/get", experiment_id="-1"))
get("exp-get/empty", Q(A + "/experiments/get", experiment_id=""))
get("exp-get/deleted", Q(A + "/experiments/get", experiment_id="{del_exp_id}"))
get("exp-get/unknown-param", Q(A + "/experiments/get", experiment_id="{exp_id}", bogus="1"))
post("exp-get/wrong-method-post", A + "/experiments/get", {"experiment_id": "{exp_id}"})

get("exp-by-name/ok", Q(A + "/experiments/get-by-name", experiment_name="{exp_name}"))
get("exp-by-name/default", Q(A + "/experiments/get-by-name", experiment_name="Default"))
get("exp-by-name/missing", A + "/experiments/get-by-name")
get("exp-by-name/nonexistent", Q(A + "/experiments/get-by-name", experiment_name="nope-{sfx}"))
get("exp-by-name/empty", Q(A + "/experiments/get-by-name", experiment_name=""))
get("exp-by-name/deleted", Q(A + "/experiments/get-by-name", experiment_name="diff-exp3-{sfx}"))
get("exp-by-name/ajax", Q(X + "/experiments/get-by-name", experiment_name="{exp_name}"))
post("exp-by-name/wrong-method-post", A + "/experiments/get-by-name", {"experiment_name": "{exp_name}"})

ES = A + "/experiments/search"
post("exp-search/client-default", ES, {"max_results": 1000, "view_type": "ACTIVE_ONLY"})
post("exp-search/empty-object", ES, {})
post("exp-search/max-results-0", ES, {"max_results": 0})
post("exp-search/max-results-negative", ES, {"max_results": -1})
post("exp-search/max-results-huge", ES, {"max_results": 50001})
post("exp-search/max-results-string-number", ES, {"max_results": "10"})
post("exp-search/max-results-string", ES, {"max_results": "abc"})
post("exp-search/max-results-float", ES, {"max_results": 1.5})
post("exp-search/max-results-1-paged", ES, {"max_results": 1})
post("exp-search/view-all", ES, {"max_results": 100, "view_type": "ALL"})
post("exp-search/view-deleted", ES, {"max_results": 100, "view_type": "DELETED_ONLY"})
post("exp-search/view-int", ES, {"max_results": 100, "view_type": 3})
post("exp-search/view-bogus", ES, {"max_results": 100, "view_type": "BOGUS"})
post("exp-search/filter-name-like", ES, {"max_results": 100, "filter": "name LIKE 'diff-exp%'"})
post("exp-search/filter-tag", ES, {"max_results": 100, "filter": "tags.et = 'ev'"})
post("exp-search/filter-id-in", ES, {"max_results": 100, "filter": "experiment_id IN ('{exp_id}', '0')"})
post("exp-search/filter-dangling-op", ES, {"max_results": 100, "filter": "name ="})
post("exp-search/filter-dangling-and", ES, {"max_results": 100, "filter": "name = 'a' and"})
post("exp-search/filter-unknown-attr", ES, {"max_results": 100, "filter": "attribute.foo = 1"})
post("exp-search/filter-tags-dot", ES, {"max_results": 100, "filter": "tags."})
post("exp-search/filter-or", ES, {"max_results": 100, "filter": "name = 'a' OR name = 'b'"})
post("exp-search/filter-number", ES, {"max_results": 100, "filter": 5})
post("exp-search/filter-creation-time", ES, {"max_results": 100, "filter": "creation_time > 0"})
post("exp-search/order-name-desc", ES, {"max_results": 100, "order_by": ["name DESC"]})
post("exp-search/order-junk", ES, {"max_results": 100, "order_by": ["bogus"]})
post("exp-search/order-bad-direction", ES, {"max_results": 100, "order_by": ["name SIDEWAYS"]})
post("exp-search/order-string", ES, {"max_results": 100, "order_by": "name"})
post("exp-search/page-token-junk", ES, {"max_results": 100, "page_token": "abc"})
get("exp-search/get", Q(ES, max_results="1000", view_type="ACTIVE_ONLY"))
get("exp-search/get-no-params", ES)
get("exp-search/get-max-results-string", Q(ES, max_results="abc"))
get("exp-search/get-repeated-order", Q(ES, ("max_results", "100"), ("order_by", "name"), ("order_by", "creation_time DESC")))
get("exp-search/get-filter", Q(ES, max_results="100", filter="name LIKE 'diff-%'", view_type="ALL"))
post("exp-search/ajax", X + "/experiments/search", {"max_results": 10})
transport_edges("exp-search", "POST", ES, J({"max_results": 5}), full=False)
add("exp-search/wrong-method-put", "PUT", ES, {})

post("exp-update/ok", A + "/experiments/update", {"experiment_id": "{exp2_id}", "new_name": "diff-exp2b-{sfx}"})
post("exp-update/missing-id", A + "/experiments/update", {"new_name": "x-{sfx}"})
post("exp-update/nonexistent", A + "/experiments/update", {"experiment_id": "999999", "new_name": "y-{sfx}"})
post("exp-update/duplicate-name", A + "/experiments/update", {"experiment_id": "{exp2_id}", "new_name": "{exp_name}"})
post("exp-update/empty-name", A + "/experiments/update", {"experiment_id": "{exp2_id}", "new_name": ""})
post("exp-update/no-new-name", A + "/experiments/update", {"experiment_id": "{exp2_id}"})
post("exp-update/id-number", A + "/experiments/update", {"experiment_id": 999999, "new_name": "z-{sfx}"})
post("exp-update/id-abc", A + "/experiments/update", {"experiment_id": "abc", "new_name": "z-{sfx}"})

ST = A + "/experiments/set-experiment-tag"
post("exp-set-tag/ok", ST, {"experiment_id": "{exp_id}", "key": "k1", "value": "v1"})
post("exp-set-tag/missing-key", ST, {"experiment_id": "{exp_id}", "value": "v1"})
post("exp-set-tag/missing-value", ST, {"experiment_id": "{exp_id}", "key": "k1"})
post("exp-set-tag/value-number", ST, {"experiment_id": "{exp_id}", "key": "k1", "value": 5})
post("exp-set-tag/key-251", ST, {"experiment_id": "{exp_id}", "key": K251, "value": "v"})
post("exp-set-tag/value-20001", ST, {"experiment_id": "{exp_id}", "key": "k2", "value": "v" * 20001})
post("exp-set-tag/nonexistent-exp", ST, {"experiment_id": "999999", "key": "k", "value": "v"})
post("exp-set-tag/deleted-exp", ST, {"experiment_id": "{del_exp_id}", "key": "k", "value": "v"})
post("exp-set-tag/bad-key-chars", ST, {"experiment_id": "{exp_id}", "key": "a$b", "value": "v"})
transport_edges("exp-set-tag", "POST", ST, J({"experiment_id": "{exp_id}", "key": "k1", "value": "v1"}), full=False)

DT = A + "/experiments/delete-experiment-tag"
post("exp-delete-tag/ok", DT, {"experiment_id": "{exp_id}", "key": "k1"})
post("exp-delete-tag/again", DT, {"experiment_id": "{exp_id}", "key": "k1"})
post("exp-delete-tag/missing-key", DT, {"experiment_id": "{exp_id}"})
post("exp-delete-tag/nonexistent-exp", DT, {"experiment_id": "999999", "key": "k1"})

post("exp-delete/ok", A + "/experiments/delete", {"experiment_id": "{exp2_id}"})
post("exp-delete/again", A + "/experiments/delete", {"experiment_id": "{exp2_id}"})
get("exp-delete/get-after", Q(A + "/experiments/get", experiment_id="{exp2_id}"))
get("exp-delete/run-of-deleted-exp", Q(A + "/runs/get", run_id="{exp2_run_id}"))
post("exp-delete/set-tag-on-deleted", ST, {"experiment_id": "{exp2_id}", "key": "k", "value": "v"})
post("exp-delete/create-run-in-deleted", A + "/runs/create", {"experiment_id": "{exp2_id}"})
post("exp-delete/rename-deleted", A + "/experiments/update", {"experiment_id": "{exp2_id}", "new_name": "diff-exp2c-{sfx}"})
post("exp-delete/search-deleted-only", ES, {"max_results": 100, "view_type": "DELETED_ONLY", "filter": "name LIKE 'diff-exp2%'"})
post("exp-restore/ok", A + "/experiments/restore", {"experiment_id": "{exp2_id}"})
post("exp-restore/active", A + "/experiments/restore", {"experiment_id": "{exp2_id}"})
get("exp-restore/run-after", Q(A + "/runs/get", run_id="{exp2_run_id}"))
post("exp-restore/nonexistent", A + "/experiments/restore", {"experiment_id": "999999"})
post("exp-restore/missing-id", A + "/experiments/restore", {})
post("exp-delete/missing-id", A + "/experiments/delete", {})
post("exp-delete/nonexistent", A + "/experiments/delete", {"experiment_id": "999999"})
post("exp-delete/not-a-number", A + "/experiments/delete", {"experiment_id": "abc"})
post("exp-delete/id-list", A + "/experiments/delete", {"experiment_id": ["{exp2_id}"]})
get("exp-delete/wrong-method-get", Q(A + "/experiments/delete", experiment_id="{exp2_id}"))

post("search-datasets/ajax", X + "/experiments/search-datasets", {"experiment_ids": ["{exp_id}"]})
post("search-datasets/proto-path", "/api/2.0mlflow/experiments/search-datasets", {"experiment_ids": ["{exp_id}"]})
post("search-datasets/api-path", A + "/experiments/search-datasets", {"experiment_ids": ["{exp_id}"]})
post("search-datasets/ajax-empty", X + "/experiments/search-datasets", {})
post("search-datasets/ajax-ids-string", X + "/experiments/search-datasets", {"experiment_ids": "{exp_id}"})
post("search-datasets/ajax-nonexistent", X + "/experiments/search-datasets", {"experiment_ids": ["999999"]})

# --------------------------------------------------------------------------- runs

RC = A + "/runs/create"
post("run-create/ok", RC, {"experiment_id": "{exp_id}", "run_name": "c1", "start_time": 1700000001000,
                           "user_id": "u", "tags": [{"key": "mlflow.user", "value": "u"}]})
post("run-create/no-experiment", RC, {"run_name": "c2"})
post("run-create/empty-object", RC, {})
post("run-create/no-name", RC, {"experiment_id": "{exp_id}"})
post("run-create/exp-abc", RC, {"experiment_id": "abc"})
post("run-create/exp-nonexistent", RC, {"experiment_id": "999999"})
post("run-create/exp-number", RC, {"experiment_id": 0, "run_name": "c3"})
post("run-create/exp-deleted", RC, {"experiment_id": "{del_exp_id}"})
post("run-create/start-time-abc", RC, {"experiment_id": "{exp_id}", "start_time": "abc"})
post("run-create/start-time-string-number", RC, {"experiment_id": "{exp_id}", "start_time": "1700000002000"})
post("run-create/start-time-float", RC, {"experiment_id": "{exp_id}", "start_time": 1.5})
post("run-create/start-time-exponent", RC, '{"experiment_id": "{exp_id}", "start_time": 1.7e12}')
post("run-create/tags-object", RC, {"experiment_id": "{exp_id}", "tags": {"a": "b"}})
post("run-create/tag-value-number", RC, {"experiment_id": "{exp_id}", "tags": [{"key": "a", "value": 1}]})
post("run-create/tag-value-8001", RC, {"experiment_id": "{exp_id}", "tags": [{"key": "a", "value": "v" * 8001}]})
post("run-create/conflicting-run-name-tag", RC,
     {"experiment_id": "{exp_id}", "run_name": "x", "tags": [{"key": "mlflow.runName", "value": "y"}]})
post("run-create/user-id-number", RC, {"experiment_id": "{exp_id}", "user_id": 5})
post("run-create/run-name-250", RC, {"experiment_id": "{exp_id}", "run_name": "r" * 250})
post("run-create/run-name-huge", RC, {"experiment_id": "{exp_id}", "run_name": "r" * 10000})
post("run-create/camel-case", RC, {"experimentId": "{exp_id}", "runName": "camel"})
transport_edges("run-create", "POST", RC, J({"experiment_id": "{exp_id}", "run_name": "edge"}))
get("run-create/wrong-method-get", RC)
post("run-create/ajax", X + "/runs/create", {"experiment_id": "{exp_id}", "run_name": "ajax"})

RG = A + "/runs/get"
get("run-get/ok-both-ids", Q(RG, run_uuid="{run_id}", run_id="{run_id}"))
get("run-get/run-id", Q(RG, run_id="{run_id}"))
get("run-get/run-uuid", Q(RG, run_uuid="{run_id}"))
get("run-get/ajax", Q(X + "/runs/get", run_id="{run_id}"))
get("run-get/finished", Q(RG, run_id="{fin_run_id}"))
get("run-get/deleted", Q(RG, run_id="{del_run_id}"))
get("run-get/missing-id", RG)
get("run-get/nonexistent", Q(RG, run_id=NO_RUN))
get("run-get/short-id", Q(RG, run_id="abc"))
get("run-get/empty-id", Q(RG, run_id=""))
get("run-get/conflicting-ids", Q(RG, run_id="{run_id}", run_uuid="{fin_run_id}"))
post("run-get/wrong-method-post", RG, {"run_id": "{run_id}"})

RU = A + "/runs/update"
post("run-update/ok-end", RU, {"run_id": "{fin_run_id}", "status": "FINISHED", "end_time": 1700000000200})
post("run-update/run-uuid", RU, {"run_uuid": "{fin_run_id}", "status": "FINISHED"})
post("run-update/rename", RU, {"run_id": "{fin_run_id}", "run_name": "run4-renamed"})
post("run-update/status-bogus", RU, {"run_id": "{fin_run_id}", "status": "BOGUS"})
post("run-update/status-int", RU, {"run_id": "{fin_run_id}", "status": 3})
post("run-update/status-lowercase", RU, {"run_id": "{fin_run_id}", "status": "finished"})
post("run-update/end-time-abc", RU, {"run_id": "{fin_run_id}", "end_time": "abc"})
post("run-update/missing-id", RU, {"status": "FINISHED"})
post("run-update/nonexistent", RU, {"run_id": NO_RUN, "status": "FINISHED"})
post("run-update/deleted-run", RU, {"run_id": "{del_run_id}", "status": "FINISHED"})
post("run-update/id-number", RU, {"run_id": 5, "status": "FINISHED"})
transport_edges("run-update", "POST", RU, J({"run_id": "{fin_run_id}", "status": "FINISHED"}), full=False)

LM = A + "/runs/log-metric"


def metric(**kw):
    m = {"run_id": "{run_id}", "key": "m3", "value": 1.0, "timestamp": 1700000000010, "step": 0}
    for k, v in kw.items():
        if v is _UNSET:
            m.pop(k)
        else:
            m[k] = v
    return m


post("log-metric/ok", LM, metric())
post("log-metric/client-shape", LM, metric(run_uuid="{run_id}"))
post("log-metric/run-uuid-only", LM, metric(run_id=_UNSET, run_uuid="{run_id}"))
post("log-metric/missing-run", LM, metric(run_id=_UNSET))
post("log-metric/missing-key", LM, metric(key=_UNSET))
post("log-metric/missing-value", LM, metric(value=_UNSET))
post("log-metric/missing-timestamp", LM, metric(timestamp=_UNSET))
post("log-metric/missing-step", LM, metric(step=_UNSET))
post("log-metric/value-string", LM, metric(value="abc"))
post("log-metric/value-string-number", LM, metric(value="1.5"))
post("log-metric/value-nan", LM, metric(value="NaN"))
post("log-metric/value-infinity", LM, metric(value="Infinity"))
post("log-metric/value-null", LM, metric(value=None))
post("log-metric/value-bool", LM, metric(value=True))
post("log-metric/timestamp-string", LM, metric(timestamp="abc"))
post("log-metric/timestamp-string-number", LM, metric(timestamp="1700000000011"))
post("log-metric/timestamp-float", LM, metric(timestamp=1.5))
post("log-metric/timestamp-integral-float", LM, metric(timestamp=1700000000011.0))
post("log-metric/timestamp-exponent", LM,
     '{"run_id": "{run_id}", "key": "m3", "value": 1.0, "timestamp": 1.700000000012e12, "step": 0}')
post("log-metric/step-string", LM, metric(step="x"))
post("log-metric/step-integral-float", LM, metric(step=2.0))
post("log-metric/step-float", LM, metric(step=1.5))
post("log-metric/key-251", LM, metric(key=K251))
post("log-metric/key-250", LM, metric(key=K250))
post("log-metric/key-bad-chars", LM, metric(key="a$b"))
post("log-metric/key-dotdot", LM, metric(key="../x"))
post("log-metric/key-absolute", LM, metric(key="/x"))
post("log-metric/key-empty", LM, metric(key=""))
post("log-metric/nonexistent-run", LM, metric(run_id=NO_RUN))
post("log-metric/deleted-run", LM, metric(run_id="{del_run_id}"))
post("log-metric/finished-run", LM, metric(run_id="{fin_run_id}"))
post("log-metric/unknown-model-id", LM, metric(model_id=NO_MODEL))
post("log-metric/with-model-id", LM, metric(model_id="{model_id}"))
post("log-metric/dataset-name-only", LM, metric(dataset_name="ds"))
transport_edges("log-metric", "POST", LM, J(metric()))
get("log-metric/wrong-method-get", LM)
post("log-metric/ajax", X + "/runs/log-metric", metric())

LP = A + "/runs/log-parameter"
post("log-param/same-value", LP, {"run_id": "{run_id}", "key": "p1", "value": "a"})
post("log-param/different-value", LP, {"run_id": "{run_id}", "key": "p1", "value": "b"})
post("log-param/new", LP, {"run_id": "{run_id}", "run_uuid": "{run_id}", "key": "p2", "value": "x"})
post("log-param/value-6000", LP, {"run_id": "{run_id}", "key": "p6000", "value": "v" * 6000})
post("log-param/value-6001", LP, {"run_id": "{run_id}", "key": "p6001", "value": "v" * 6001})
post("log-param/value-huge", LP, {"run_id": "{run_id}", "key": "phuge", "value": "v" * 100000})
post("log-param/key-251", LP, {"run_id": "{run_id}", "key": K251, "value": "v"})
post("log-param/key-250", LP, {"run_id": "{run_id}", "key": K250, "value": "v"})
post("log-param/key-bad-chars", LP, {"run_id": "{run_id}", "key": "a$b", "value": "v"})
post("log-param/value-number", LP, {"run_id": "{run_id}", "key": "pnum", "value": 5})
post("log-param/value-null", LP, {"run_id": "{run_id}", "key": "pnull", "value": None})
post("log-param/missing-value", LP, {"run_id": "{run_id}", "key": "pmiss"})
post("log-param/missing-key", LP, {"run_id": "{run_id}", "value": "v"})
post("log-param/value-empty", LP, {"run_id": "{run_id}", "key": "pempty", "value": ""})
post("log-param/run-uuid-only", LP, {"run_uuid": "{run_id}", "key": "p1", "value": "a"})
post("log-param/nonexistent-run", LP, {"run_id": NO_RUN, "key": "p", "value": "v"})
post("log-param/deleted-run", LP, {"run_id": "{del_run_id}", "key": "p", "value": "v"})
transport_edges("log-param", "POST", LP, J({"run_id": "{run_id}", "key": "p1", "value": "a"}))
get("log-param/wrong-method-get", LP)

TG = A + "/runs/set-tag"
post("set-tag/ok", TG, {"run_id": "{run_id}", "run_uuid": "{run_id}", "key": "t3", "value": "v3"})
post("set-tag/value-8000", TG, {"run_id": "{run_id}", "key": "t8000", "value": "v" * 8000})
post("set-tag/value-8001", TG, {"run_id": "{run_id}", "key": "t8001", "value": "v" * 8001})
post("set-tag/key-251", TG, {"run_id": "{run_id}", "key": K251, "value": "v"})
post("set-tag/run-name-tag", TG, {"run_id": "{fin_run_id}", "key": "mlflow.runName", "value": "renamed-by-tag"})
post("set-tag/value-null", TG, {"run_id": "{run_id}", "key": "t4", "value": None})
post("set-tag/missing-value", TG, {"run_id": "{run_id}", "key": "t4"})
post("set-tag/missing-key", TG, {"run_id": "{run_id}", "value": "v"})
post("set-tag/value-number", TG, {"run_id": "{run_id}", "key": "t5", "value": 5})
post("set-tag/nonexistent-run", TG, {"run_id": NO_RUN, "key": "t", "value": "v"})
post("set-tag/deleted-run", TG, {"run_id": "{del_run_id}", "key": "t", "value": "v"})
post("set-tag/missing-run", TG, {"key": "t", "value": "v"})
transport_edges("set-tag", "POST", TG, J({"run_id": "{run_id}", "key": "t3", "value": "v3"}), full=False)

DG = A + "/runs/delete-tag"
post("delete-tag/ok", DG, {"run_id": "{run_id}", "key": "t3"})
post("delete-tag/again", DG, {"run_id": "{run_id}", "key": "t3"})
post("delete-tag/missing-key", DG, {"run_id": "{run_id}"})
post("delete-tag/run-uuid-only", DG, {"run_uuid": "{run_id}", "key": "t2"})
post("delete-tag/nonexistent-run", DG, {"run_id": NO_RUN, "key": "t"})
post("delete-tag/deleted-run", DG, {"run_id": "{del_run_id}", "key": "mlflow.runName"})

RD, RR = A + "/runs/delete", A + "/runs/restore"
post("run-delete/ok", RD, {"run_id": "{run2_id}"})
post("run-delete/again", RD, {"run_id": "{run2_id}"})
get("run-delete/get-after", Q(RG, run_id="{run2_id}"))
post("run-delete/set-tag-after", TG, {"run_id": "{run2_id}", "key": "t", "value": "v"})
post("run-delete/log-metric-after", LM, metric(run_id="{run2_id}"))
post("run-delete/log-param-after", LP, {"run_id": "{run2_id}", "key": "p", "value": "v"})
post("run-delete/log-batch-after", A + "/runs/log-batch",
     {"run_id": "{run2_id}", "params": [{"key": "p", "value": "v"}]})
post("run-delete/update-after", RU, {"run_id": "{run2_id}", "status": "KILLED"})
post("run-delete/search-deleted", A + "/runs/search",
     {"experiment_ids": ["{exp_id}"], "run_view_type": "DELETED_ONLY"})
post("run-restore/ok", RR, {"run_id": "{run2_id}"})
post("run-restore/active", RR, {"run_id": "{run2_id}"})
post("run-restore/nonexistent", RR, {"run_id": NO_RUN})
post("run-restore/missing-id", RR, {})
post("run-delete/nonexistent", RD, {"run_id": NO_RUN})
post("run-delete/missing-id", RD, {})
post("run-delete/run-uuid-only", RD, {"run_uuid": "{run2_id}"})
post("run-restore/run-uuid-only", RR, {"run_uuid": "{run2_id}"})
get("run-delete/wrong-method-get", Q(RD, run_id="{run2_id}"))

LB = A + "/runs/log-batch"
post("log-batch/ok", LB, {"run_id": "{run_id}",
                          "metrics": [{"key": "b1", "value": 1, "timestamp": 1700000000020, "step": 0}],
                          "params": [{"key": "bp", "value": "1"}], "tags": [{"key": "bt", "value": "1"}]})
post("log-batch/empty", LB, {"run_id": "{run_id}"})
post("log-batch/missing-run", LB, {"params": [{"key": "bp", "value": "1"}]})
post("log-batch/run-uuid-only", LB, {"run_uuid": "{run_id}", "params": [{"key": "bp", "value": "1"}]})
post("log-batch/metrics-object", LB, {"run_id": "{run_id}", "metrics": {"key": "b", "value": 1}})
post("log-batch/params-string", LB, {"run_id": "{run_id}", "params": "bp=1"})
post("log-batch/1001-metrics", LB, {"run_id": "{run_id}", "metrics": [
    {"key": f"bm{i}", "value": i, "timestamp": 1700000000000, "step": 0} for i in range(1001)]})
post("log-batch/101-params", LB, {"run_id": "{run_id}", "params": [
    {"key": f"bp{i}", "value": "v"} for i in range(101)]})
post("log-batch/101-tags", LB, {"run_id": "{run_id}", "tags": [
    {"key": f"bt{i}", "value": "v"} for i in range(101)]})
post("log-batch/dup-param-in-batch", LB, {"run_id": "{run_id}", "params": [
    {"key": "dp", "value": "1"}, {"key": "dp", "value": "2"}]})
post("log-batch/dup-param-same-value", LB, {"run_id": "{run_id}", "params": [
    {"key": "dq", "value": "1"}, {"key": "dq", "value": "1"}]})
post("log-batch/param-changes-existing", LB, {"run_id": "{run_id}", "params": [{"key": "p1", "value": "zzz"}]})
post("log-batch/metric-missing-timestamp", LB, {"run_id": "{run_id}", "metrics": [{"key": "b2", "value": 1}]})
post("log-batch/metric-missing-value", LB, {"run_id": "{run_id}", "metrics": [{"key": "b2", "timestamp": 1}]})
post("log-batch/metric-value-string", LB, {"run_id": "{run_id}", "metrics": [
    {"key": "b3", "value": "abc", "timestamp": 1, "step": 0}]})
post("log-batch/metric-timestamp-integral-float", LB, {"run_id": "{run_id}", "metrics": [
    {"key": "b7", "value": 1, "timestamp": 1700000000000.0, "step": 0}]})
post("log-batch/metric-value-nan", LB, {"run_id": "{run_id}", "metrics": [
    {"key": "b4", "value": "NaN", "timestamp": 1, "step": 0}]})
post("log-batch/param-value-6001", LB, {"run_id": "{run_id}", "params": [{"key": "bpl", "value": "v" * 6001}]})
post("log-batch/tag-value-8001", LB, {"run_id": "{run_id}", "tags": [{"key": "btl", "value": "v" * 8001}]})
post("log-batch/key-251", LB, {"run_id": "{run_id}", "params": [{"key": K251, "value": "v"}]})
post("log-batch/param-missing-value", LB, {"run_id": "{run_id}", "params": [{"key": "bpm"}]})
post("log-batch/nonexistent-run", LB, {"run_id": NO_RUN, "params": [{"key": "p", "value": "v"}]})
post("log-batch/deleted-run", LB, {"run_id": "{del_run_id}", "params": [{"key": "p", "value": "v"}]})
post("log-batch/metric-model-id", LB, {"run_id": "{run_id}", "metrics": [
    {"key": "b5", "value": 1, "timestamp": 1, "step": 0, "model_id": "{model_id}"}]})
post("log-batch/metric-unknown-model-id", LB, {"run_id": "{run_id}", "metrics": [
    {"key": "b6", "value": 1, "timestamp": 1, "step": 0, "model_id": NO_MODEL}]})
transport_edges("log-batch", "POST", LB, J({"run_id": "{run_id}", "params": [{"key": "p1", "value": "a"}]}))
get("log-batch/wrong-method-get", LB)

GH = A + "/metrics/get-history"
get("history/ok", Q(GH, run_id="{run_id}", metric_key="m1"))
get("history/client-shape", Q(GH, run_uuid="{run_id}", run_id="{run_id}", metric_key="m1", max_results="25000"))
get("history/run-uuid", Q(GH, run_uuid="{run_id}", metric_key="m1"))
get("history/ajax", Q(X + "/metrics/get-history", run_id="{run_id}", metric_key="m1"))
get("history/missing-key", Q(GH, run_id="{run_id}"))
get("history/missing-run", Q(GH, metric_key="m1"))
get("history/unknown-key", Q(GH, run_id="{run_id}", metric_key="nope"))
get("history/nonexistent-run", Q(GH, run_id=NO_RUN, metric_key="m1"))
get("history/deleted-run", Q(GH, run_id="{del_run_id}", metric_key="m1"))
get("history/max-results-1", Q(GH, run_id="{run_id}", metric_key="m1", max_results="1"))
get("history/max-results-0", Q(GH, run_id="{run_id}", metric_key="m1", max_results="0"))
get("history/max-results-negative", Q(GH, run_id="{run_id}", metric_key="m1", max_results="-1"))
get("history/max-results-abc", Q(GH, run_id="{run_id}", metric_key="m1", max_results="abc"))
get("history/max-results-huge", Q(GH, run_id="{run_id}", metric_key="m1", max_results="25001"))
get("history/page-token-junk", Q(GH, run_id="{run_id}", metric_key="m1", page_token="junk"))
post("history/wrong-method-post", GH, {"run_id": "{run_id}", "metric_key": "m1"})

BI = A + "/metrics/get-history-bulk-interval"
get("bulk-interval/ok", Q(BI, ("run_ids", "{run_id}"), ("run_ids", "{fin_run_id}"), ("metric_key", "m1")))
get("bulk-interval/ajax", Q(X + "/metrics/get-history-bulk-interval", ("run_ids", "{run_id}"),
                            ("metric_key", "m1"), ("max_results", "320")))
get("bulk-interval/one-run", Q(BI, run_ids="{run_id}", metric_key="m1"))
get("bulk-interval/missing-key", Q(BI, run_ids="{run_id}"))
get("bulk-interval/no-runs", Q(BI, metric_key="m1"))
get("bulk-interval/101-runs", Q(BI, *[("run_ids", f"{i:032x}") for i in range(101)], ("metric_key", "m1")))
get("bulk-interval/steps", Q(BI, run_ids="{run_id}", metric_key="m1", start_step="0", end_step="1"))
get("bulk-interval/start-only", Q(BI, run_ids="{run_id}", metric_key="m1", start_step="0"))
get("bulk-interval/start-after-end", Q(BI, run_ids="{run_id}", metric_key="m1", start_step="5", end_step="1"))
get("bulk-interval/max-results-0", Q(BI, run_ids="{run_id}", metric_key="m1", max_results="0"))
get("bulk-interval/max-results-2501", Q(BI, run_ids="{run_id}", metric_key="m1", max_results="2501"))
get("bulk-interval/max-results-abc", Q(BI, run_ids="{run_id}", metric_key="m1", max_results="abc"))
get("bulk-interval/nonexistent-run", Q(BI, run_ids=NO_RUN, metric_key="m1"))
get("bulk-interval/unknown-key", Q(BI, run_ids="{run_id}", metric_key="nope"))
get("bulk-history/ajax", Q(X + "/metrics/get-history-bulk", ("run_id", "{run_id}"), ("run_id", "{fin_run_id}"),
                          ("metric_key", "m1")))
get("bulk-history/missing-key", Q(X + "/metrics/get-history-bulk", run_id="{run_id}"))
get("bulk-history/no-runs", Q(X + "/metrics/get-history-bulk", metric_key="m1"))

RS = A + "/runs/search"


def rs(**kw):
    body = {"experiment_ids": ["{exp_id}"]}
    body.update(kw)
    return body


post("runs-search/ok", RS, rs(max_results=1000))
post("runs-search/ajax", X + "/runs/search", rs())
post("runs-search/no-experiments", RS, {})
post("runs-search/exp-ids-string", RS, {"experiment_ids": "{exp_id}"})
post("runs-search/exp-ids-abc", RS, {"experiment_ids": ["abc"]})
post("runs-search/exp-ids-nonexistent", RS, {"experiment_ids": ["999999"]})
post("runs-search/exp-ids-number", RS, {"experiment_ids": [0]})
post("runs-search/camel-case", RS, {"experimentIds": ["{exp_id}"], "maxResults": 1})
post("runs-search/max-results-0", RS, rs(max_results=0))
post("runs-search/max-results-negative", RS, rs(max_results=-5))
post("runs-search/max-results-50001", RS, rs(max_results=50001))
post("runs-search/max-results-string-number", RS, rs(max_results="2"))
post("runs-search/max-results-abc", RS, rs(max_results="abc"))
post("runs-search/max-results-1", RS, rs(max_results=1))
post("runs-search/view-all", RS, rs(run_view_type="ALL"))
post("runs-search/view-bogus", RS, rs(run_view_type="BOGUS"))
post("runs-search/view-int", RS, rs(run_view_type=2))
for fname, flt in [
    ("valid-combo", "metrics.m1 < 1 and params.p1 = 'a' and tags.\"t1\" = 'v1' and attributes.run_name LIKE 'main%'"),
    ("metric-dangling-op", "metrics.a >"),
    ("param-dangling-and", "params.x = 'a' and"),
    ("unknown-attribute", "attribute.foo = 1"),
    ("tags-dot", "tags."),
    ("metric-string-value", "metrics.m1 > 'abc'"),
    ("param-numeric-compare", "params.p1 > 1"),
    ("param-unquoted-value", "params.p1 = a"),
    ("or", "params.p1 = 'a' OR params.p1 = 'b'"),
    ("run-name", "run_name = 'main-run'"),
    ("run-id-in", "attributes.run_id IN ('{run_id}', '{fin_run_id}')"),
    ("run-id-in-empty", "attributes.run_id IN ()"),
    ("status", "attributes.status = 'FINISHED'"),
    ("start-time-string", "attributes.start_time > 'x'"),
    ("start-time", "attributes.start_time >= 0"),
    ("dataset-name", "dataset.name = 'ds'"),
    ("dataset-context", "dataset.context = 'train'"),
    ("parens-junk", ")))"),
    ("metric-is-null", "metrics.m1 IS NULL"),
    ("param-is-not-null", "params.p1 IS NOT NULL"),
    ("tag-ilike", "tags.t1 ILIKE 'V%'"),
    ("backtick-tag", "tags.`mlflow.runName` = 'main-run'"),
    ("only-whitespace", "   "),
    ("entity-only", "metrics"),
    ("unknown-entity", "foo.bar = 'x'"),
    ("double-equals", "params.p1 == 'a'"),
    ("unterminated-quote", "params.p1 = 'a"),
]:
    post(f"runs-search/filter-{fname}", RS, rs(filter=flt))
post("runs-search/filter-number", RS, rs(filter=5))
for oname, ob in [
    ("metric-desc", ["metrics.m1 DESC"]),
    ("param", ["params.p1"]),
    ("tag-desc", ["tags.t1 DESC"]),
    ("start-time-asc", ["attributes.start_time ASC"]),
    ("junk", ["bogus"]),
    ("bad-direction", ["metrics.m1 SIDEWAYS"]),
    ("duplicate", ["attributes.start_time ASC", "attributes.start_time DESC"]),
    ("empty-string", [""]),
    ("unknown-attribute", ["attributes.foo"]),
    ("three-tokens", ["metrics.m1 DESC extra"]),
]:
    post(f"runs-search/order-{oname}", RS, rs(order_by=ob))
post("runs-search/order-string", RS, rs(order_by="metrics.m1 DESC"))
post("runs-search/page-token-junk", RS, rs(page_token="junk"))
post("runs-search/page-token-number", RS, rs(page_token=5))
get("runs-search/wrong-method-get", Q(RS, experiment_ids="{exp_id}"))
transport_edges("runs-search", "POST", RS, J(rs(max_results=5)))

LI = A + "/runs/log-inputs"


def ds(**kw):
    d = {"name": "ds2", "digest": "d2", "source_type": "local", "source": "{\"uri\": \"/tmp/y\"}"}
    for k, v in kw.items():
        if v is _UNSET:
            d.pop(k)
        else:
            d[k] = v
    return {"run_id": "{run_id}", "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "eval"}],
                                               "dataset": d}]}


post("log-inputs/ok", LI, ds())
post("log-inputs/run-only", LI, {"run_id": "{run_id}"})
post("log-inputs/missing-run", LI, {"datasets": ds()["datasets"]})
post("log-inputs/missing-digest", LI, ds(digest=_UNSET))
post("log-inputs/missing-name", LI, ds(name=_UNSET))
post("log-inputs/missing-source", LI, ds(source=_UNSET))
post("log-inputs/name-501", LI, ds(name="n" * 501))
post("log-inputs/digest-37", LI, ds(digest="d" * 37))
post("log-inputs/datasets-object", LI, {"run_id": "{run_id}", "datasets": {"dataset": {"name": "x"}}})
post("log-inputs/input-tag-key-256", LI, {"run_id": "{run_id}", "datasets": [
    {"tags": [{"key": "k" * 256, "value": "v"}], "dataset": ds()["datasets"][0]["dataset"]}]})
post("log-inputs/input-tag-value-501", LI, {"run_id": "{run_id}", "datasets": [
    {"tags": [{"key": "k", "value": "v" * 501}], "dataset": ds()["datasets"][0]["dataset"]}]})
post("log-inputs/nonexistent-run", LI, dict(ds(), run_id=NO_RUN))
post("log-inputs/deleted-run", LI, dict(ds(), run_id="{del_run_id}"))
post("log-inputs/models", LI, {"run_id": "{run_id}", "models": [{"model_id": "{model_id}"}]})
post("log-inputs/unknown-model", LI, {"run_id": "{run_id}", "models": [{"model_id": NO_MODEL}]})
transport_edges("log-inputs", "POST", LI, J(ds()), full=False)

RO = A + "/runs/outputs"
post("outputs/ok", RO, {"run_id": "{run_id}", "models": [{"model_id": "{model2_id}", "step": 1}]})
post("outputs/same-again", RO, {"run_id": "{run_id}", "models": [{"model_id": "{model_id}", "step": 0}]})
post("outputs/missing-run", RO, {"models": [{"model_id": "{model_id}", "step": 0}]})
post("outputs/no-models", RO, {"run_id": "{run_id}"})
post("outputs/missing-model-id", RO, {"run_id": "{run_id}", "models": [{"step": 0}]})
post("outputs/unknown-model", RO, {"run_id": "{run_id}", "models": [{"model_id": NO_MODEL, "step": 0}]})
post("outputs/nonexistent-run", RO, {"run_id": NO_RUN, "models": [{"model_id": "{model_id}", "step": 0}]})
post("outputs/step-string", RO, {"run_id": "{run_id}", "models": [{"model_id": "{model_id}", "step": "x"}]})
transport_edges("outputs", "POST", RO, J({"run_id": "{run_id}", "models": [{"model_id": "{model_id}", "step": 0}]}),
                full=False)

LMOD = A + "/runs/log-model"
post("log-model/ok", LMOD, {"run_id": "{run_id}", "model_json": J(
    {"artifact_path": "model", "flavors": {"python_function": {}}, "utc_time_created": "2024-01-01 00:00:00.000000",
     "run_id": "{run_id}"})})
post("log-model/junk-json", LMOD, {"run_id": "{run_id}", "model_json": "abc"})
post("log-model/missing-model-json", LMOD, {"run_id": "{run_id}"})
post("log-model/nonexistent-run", LMOD, {"run_id": NO_RUN, "model_json": "{}"})

AL = A + "/artifacts/list"
get("artifacts-list/ok", Q(AL, run_id="{run_id}"))
get("artifacts-list/run-uuid", Q(AL, run_uuid="{run_id}"))
get("artifacts-list/ajax", Q(X + "/artifacts/list", run_id="{run_id}"))
get("artifacts-list/path-dir", Q(AL, run_id="{run_id}", path="dir"))
get("artifacts-list/path-file", Q(AL, run_id="{run_id}", path="dir/hello.txt"))
get("artifacts-list/path-missing-dir", Q(AL, run_id="{run_id}", path="nope"))
get("artifacts-list/path-dotdot", Q(AL, run_id="{run_id}", path="../x"))
get("artifacts-list/path-absolute", Q(AL, run_id="{run_id}", path="/etc"))
get("artifacts-list/nonexistent-run", Q(AL, run_id=NO_RUN))
get("artifacts-list/missing-run", AL)
get("artifacts-list/page-token-junk", Q(AL, run_id="{run_id}", page_token="junk"))
get("artifacts-list/empty-run", Q(AL, run_id="{fin_run_id}"))
post("artifacts-list/wrong-method-post", AL, {"run_id": "{run_id}"})

post("presigned-upload/ok", A + "/artifacts/presigned-upload-url", {"run_id": "{run_id}", "path": "x.txt"})
post("presigned-upload/missing-run", A + "/artifacts/presigned-upload-url", {"path": "x.txt"})
post("presigned-download/ok", A + "/artifacts/presigned-download-url", {"run_id": "{run_id}", "path": "dir/hello.txt"})
post("presigned-download/nonexistent-run", A + "/artifacts/presigned-download-url", {"run_id": NO_RUN, "path": "x"})

# --------------------------------------------------------------------------- logged models

LMS = A + "/logged-models"
post("lm-create/ok", LMS, {"experiment_id": "{exp_id}", "name": "lm3", "model_type": "sklearn",
                           "source_run_id": "{run_id}", "params": [{"key": "a", "value": "1"}],
                           "tags": [{"key": "b", "value": "2"}]})
post("lm-create/minimal", LMS, {"experiment_id": "{exp_id}"})
post("lm-create/missing-exp", LMS, {"name": "x"})
post("lm-create/exp-abc", LMS, {"experiment_id": "abc", "name": "x"})
post("lm-create/exp-nonexistent", LMS, {"experiment_id": "999999", "name": "x"})
post("lm-create/exp-deleted", LMS, {"experiment_id": "{del_exp_id}", "name": "x"})
post("lm-create/params-object", LMS, {"experiment_id": "{exp_id}", "params": {"a": "1"}})
post("lm-create/source-run-nonexistent", LMS, {"experiment_id": "{exp_id}", "source_run_id": NO_RUN})
post("lm-create/model-type-number", LMS, {"experiment_id": "{exp_id}", "model_type": 5})
post("lm-create/tag-value-huge", LMS, {"experiment_id": "{exp_id}", "tags": [{"key": "b", "value": "v" * 100001}]})
post("lm-create/name-huge", LMS, {"experiment_id": "{exp_id}", "name": "n" * 1000})
post("lm-create/ajax", X + "/logged-models", {"experiment_id": "{exp_id}", "name": "lm-ajax"})
transport_edges("lm-create", "POST", LMS, J({"experiment_id": "{exp_id}", "name": "edge"}))
get("lm-create/wrong-method-get", LMS)

get("lm-get/ok", A + "/logged-models/{model_id}")
get("lm-get/ajax", X + "/logged-models/{model_id}")
get("lm-get/pending", A + "/logged-models/{model2_id}")
get("lm-get/nonexistent", A + "/logged-models/" + NO_MODEL)
get("lm-get/junk-id", A + "/logged-models/abc")
add("lm-get/wrong-method-put", "PUT", A + "/logged-models/{model_id}", {})

LF = A + "/logged-models/{model_id}"
add("lm-finalize/ok", "PATCH", LF, {"model_id": "{model_id}", "status": "LOGGED_MODEL_READY"})
add("lm-finalize/path-id-only", "PATCH", LF, {"status": "LOGGED_MODEL_READY"})
add("lm-finalize/failed", "PATCH", A + "/logged-models/{model2_id}",
    {"model_id": "{model2_id}", "status": "LOGGED_MODEL_UPLOAD_FAILED"})
add("lm-finalize/body-id-differs", "PATCH", LF, {"model_id": "{model2_id}", "status": "LOGGED_MODEL_READY"})
add("lm-finalize/bogus", "PATCH", LF, {"model_id": "{model_id}", "status": "BOGUS"})
add("lm-finalize/int", "PATCH", LF, {"model_id": "{model_id}", "status": 2})
add("lm-finalize/missing-status", "PATCH", LF, {"model_id": "{model_id}"})
add("lm-finalize/pending", "PATCH", LF, {"model_id": "{model_id}", "status": "LOGGED_MODEL_PENDING"})
add("lm-finalize/ready-again", "PATCH", LF, {"model_id": "{model_id}", "status": "LOGGED_MODEL_READY"})
add("lm-finalize/nonexistent", "PATCH", A + "/logged-models/" + NO_MODEL,
    {"model_id": NO_MODEL, "status": "LOGGED_MODEL_READY"})
add("lm-finalize/no-content-type", "PATCH", LF, J({"model_id": "{model_id}", "status": "LOGGED_MODEL_READY"}), {})
add("lm-finalize/empty-body", "PATCH", LF, "")
add("lm-finalize/malformed", "PATCH", LF, '{"model_id": "{model_id}", "status": ')
add("lm-finalize/json-array", "PATCH", LF, "[]")

LSR = A + "/logged-models/search"
post("lm-search/ok", LSR, {"experiment_ids": ["{exp_id}"]})
post("lm-search/ajax", X + "/logged-models/search", {"experiment_ids": ["{exp_id}"]})
post("lm-search/client-name-filter", LSR, {"experiment_ids": ["{exp_id}"], "filter": "name = 'lm'"})
post("lm-search/no-experiments", LSR, {})
post("lm-search/exp-ids-string", LSR, {"experiment_ids": "{exp_id}"})
post("lm-search/exp-abc", LSR, {"experiment_ids": ["abc"]})
post("lm-search/filter-dangling", LSR, {"experiment_ids": ["{exp_id}"], "filter": "name ="})
post("lm-search/filter-metric", LSR, {"experiment_ids": ["{exp_id}"], "filter": "metrics.m1 > 0"})
post("lm-search/filter-param", LSR, {"experiment_ids": ["{exp_id}"], "filter": "params.lp = '1'"})
post("lm-search/filter-status", LSR, {"experiment_ids": ["{exp_id}"], "filter": "status = 'LOGGED_MODEL_READY'"})
post("lm-search/filter-unknown-attr", LSR, {"experiment_ids": ["{exp_id}"], "filter": "foo = 'x'"})
post("lm-search/filter-or", LSR, {"experiment_ids": ["{exp_id}"], "filter": "name = 'a' OR name = 'b'"})
post("lm-search/order-object", LSR, {"experiment_ids": ["{exp_id}"],
                                     "order_by": [{"field_name": "creation_timestamp", "ascending": False}]})
post("lm-search/order-metric", LSR, {"experiment_ids": ["{exp_id}"],
                                     "order_by": [{"field_name": "metrics.m1", "ascending": True}]})
post("lm-search/order-string-list", LSR, {"experiment_ids": ["{exp_id}"], "order_by": ["name"]})
post("lm-search/order-unknown-field", LSR, {"experiment_ids": ["{exp_id}"], "order_by": [{"field_name": "bogus"}]})
post("lm-search/max-results-0", LSR, {"experiment_ids": ["{exp_id}"], "max_results": 0})
post("lm-search/max-results-1", LSR, {"experiment_ids": ["{exp_id}"], "max_results": 1})
post("lm-search/max-results-abc", LSR, {"experiment_ids": ["{exp_id}"], "max_results": "abc"})
post("lm-search/max-results-negative", LSR, {"experiment_ids": ["{exp_id}"], "max_results": -1})
post("lm-search/datasets", LSR, {"experiment_ids": ["{exp_id}"], "datasets": [{"dataset_name": "ds"}]})
post("lm-search/page-token-junk", LSR, {"experiment_ids": ["{exp_id}"], "page_token": "junk"})
get("lm-search/wrong-method-get", Q(LSR, experiment_ids="{exp_id}"))
transport_edges("lm-search", "POST", LSR, J({"experiment_ids": ["{exp_id}"]}), full=False)

LT = A + "/logged-models/{model_id}/tags"
add("lm-set-tags/ok", "PATCH", LT, {"model_id": "{model_id}", "tags": [{"key": "mlflow.modelVersions", "value": "[]"}, {"key": "x", "value": "y"}]})
add("lm-set-tags/empty", "PATCH", LT, {})
add("lm-set-tags/tags-object", "PATCH", LT, {"tags": {"x": "y"}})
add("lm-set-tags/missing-value", "PATCH", LT, {"tags": [{"key": "x"}]})
add("lm-set-tags/key-251", "PATCH", LT, {"tags": [{"key": K251, "value": "v"}]})
add("lm-set-tags/nonexistent", "PATCH", A + "/logged-models/" + NO_MODEL + "/tags", {"tags": [{"key": "x", "value": "y"}]})
post("lm-set-tags/wrong-method-post", LT, {"tags": [{"key": "x", "value": "y"}]})
add("lm-delete-tag/ok", "DELETE", A + "/logged-models/{model_id}/tags/x")
add("lm-delete-tag/again", "DELETE", A + "/logged-models/{model_id}/tags/x")
add("lm-delete-tag/nonexistent-model", "DELETE", A + "/logged-models/" + NO_MODEL + "/tags/x")
add("lm-delete-tag/with-json-body", "DELETE", A + "/logged-models/{model_id}/tags/lt", {})

LPR = A + "/logged-models/{model_id}/params"
post("lm-params/ok", LPR, {"model_id": "{model_id}", "params": [{"key": "np", "value": "1"}]})
post("lm-params/path-id-only", LPR, {"params": [{"key": "np0", "value": "1"}]})
post("lm-params/same-again", LPR, {"model_id": "{model_id}", "params": [{"key": "np", "value": "1"}]})
post("lm-params/change-value", LPR, {"model_id": "{model_id}", "params": [{"key": "np", "value": "2"}]})
post("lm-params/empty", LPR, {"model_id": "{model_id}"})
post("lm-params/params-object", LPR, {"model_id": "{model_id}", "params": {"a": "1"}})
post("lm-params/value-6001", LPR, {"model_id": "{model_id}", "params": [{"key": "long", "value": "v" * 6001}]})
post("lm-params/nonexistent", A + "/logged-models/" + NO_MODEL + "/params",
     {"model_id": NO_MODEL, "params": [{"key": "a", "value": "1"}]})

LAD = A + "/logged-models/{model_id}/artifacts/directories"
get("lm-artifacts/ok", LAD)
get("lm-artifacts/ajax", X + "/logged-models/{model_id}/artifacts/directories")
get("lm-artifacts/path", Q(LAD, artifact_directory_path="sub"))
get("lm-artifacts/path-dotdot", Q(LAD, artifact_directory_path="../x"))
get("lm-artifacts/nonexistent", A + "/logged-models/" + NO_MODEL + "/artifacts/directories")
get("lm-artifacts/file-ajax", Q(X + "/logged-models/{model_id}/artifacts/files", artifact_file_path="MLmodel"))
get("lm-artifacts/file-ajax-missing", Q(X + "/logged-models/{model_id}/artifacts/files", artifact_file_path="nope"))
get("lm-artifacts/file-ajax-no-path", X + "/logged-models/{model_id}/artifacts/files")

add("lm-delete/ok", "DELETE", A + "/logged-models/{model2_id}")
add("lm-delete/again", "DELETE", A + "/logged-models/{model2_id}")
get("lm-delete/get-after", A + "/logged-models/{model2_id}")
add("lm-delete/nonexistent", "DELETE", A + "/logged-models/" + NO_MODEL)
post("lm-delete/search-after", LSR, {"experiment_ids": ["{exp_id}"], "filter": "name = 'lm2'"})

# --------------------------------------------------------------------------- registered models

RMC = A + "/registered-models/create"
post("rm-create/ok", RMC, {"name": "diff-rm-new-{sfx}", "description": "x", "tags": [{"key": "a", "value": "b"}]})
post("rm-create/duplicate", RMC, {"name": "{model_name}"})
post("rm-create/missing-name", RMC, {})
post("rm-create/empty-name", RMC, {"name": ""})
post("rm-create/name-number", RMC, {"name": 5})
post("rm-create/name-null", RMC, {"name": None})
post("rm-create/name-huge", RMC, {"name": "n" * 1000})
post("rm-create/tags-object", RMC, {"name": "diff-rm-t-{sfx}", "tags": {"a": "b"}})
post("rm-create/tag-key-251", RMC, {"name": "diff-rm-k-{sfx}", "tags": [{"key": K251, "value": "v"}]})
post("rm-create/tag-value-100001", RMC, {"name": "diff-rm-v-{sfx}", "tags": [{"key": "a", "value": "v" * 100001}]})
post("rm-create/description-huge", RMC, {"name": "diff-rm-d-{sfx}", "description": "d" * 200000})
post("rm-create/name-with-slash", RMC, {"name": "a/b-{sfx}"})
post("rm-create/ajax", X + "/registered-models/create", {"name": "diff-rm-ajax-{sfx}"})
transport_edges("rm-create", "POST", RMC, J({"name": "{model_name}"}))
get("rm-create/wrong-method-get", RMC)

RMG = A + "/registered-models/get"
get("rm-get/ok", Q(RMG, name="{model_name}"))
get("rm-get/ajax", Q(X + "/registered-models/get", name="{model_name}"))
get("rm-get/prompt", Q(RMG, name="{prompt_name}"))
get("rm-get/missing-name", RMG)
get("rm-get/nonexistent", Q(RMG, name="nope-{sfx}"))
get("rm-get/empty-name", Q(RMG, name=""))
post("rm-get/wrong-method-post", RMG, {"name": "{model_name}"})

RMR = A + "/registered-models/rename"
post("rm-rename/ok", RMR, {"name": "{model3_name}", "new_name": "{model3_name}-renamed"})
post("rm-rename/back", RMR, {"name": "{model3_name}-renamed", "new_name": "{model3_name}"})
post("rm-rename/to-existing", RMR, {"name": "{model3_name}", "new_name": "{model_name}"})
post("rm-rename/missing-new-name", RMR, {"name": "{model3_name}"})
post("rm-rename/empty-new-name", RMR, {"name": "{model3_name}", "new_name": ""})
post("rm-rename/nonexistent", RMR, {"name": "nope-{sfx}", "new_name": "nope2-{sfx}"})
post("rm-rename/missing-name", RMR, {"new_name": "x-{sfx}"})

RMU = A + "/registered-models/update"
add("rm-update/ok", "PATCH", RMU, {"name": "{model_name}", "description": "new description"})
add("rm-update/no-description", "PATCH", RMU, {"name": "{model_name}"})
add("rm-update/description-huge", "PATCH", RMU, {"name": "{model_name}", "description": "d" * 200000})
add("rm-update/missing-name", "PATCH", RMU, {"description": "x"})
add("rm-update/nonexistent", "PATCH", RMU, {"name": "nope-{sfx}", "description": "x"})
add("rm-update/description-number", "PATCH", RMU, {"name": "{model_name}", "description": 5})
post("rm-update/wrong-method-post", RMU, {"name": "{model_name}", "description": "x"})
add("rm-update/no-content-type", "PATCH", RMU, J({"name": "{model_name}", "description": "x"}), {})
add("rm-update/empty-body", "PATCH", RMU, "")

RMS = A + "/registered-models/search"
PROMPT = "tag.`mlflow.prompt.is_prompt` != 'true'"
get("rm-search/ok", Q(RMS, max_results="100"))
get("rm-search/no-params", RMS)
get("rm-search/ajax", Q(X + "/registered-models/search", max_results="100"))
get("rm-search/client-filter", Q(RMS, filter="name LIKE 'diff-%' AND " + PROMPT, max_results="100"))
get("rm-search/name-eq", Q(RMS, filter="name = '{model_name}'"))
get("rm-search/prompt-by-name", Q(RMS, filter="name = '{prompt_name}'"))
get("rm-search/prompt-by-tag", Q(RMS, filter="tags.`mlflow.prompt.is_prompt` = 'true'"))
get("rm-search/name-ilike", Q(RMS, filter="name ILIKE 'DIFF-RM-%'"))
get("rm-search/name-in", Q(RMS, filter="name IN ('{model_name}', '{model2_name}')"))
get("rm-search/tag", Q(RMS, filter="tags.rt = 'rv'"))
get("rm-search/filter-dangling", Q(RMS, filter="name ="))
get("rm-search/filter-dangling-and", Q(RMS, filter="name = 'a' and"))
get("rm-search/filter-unknown-attr", Q(RMS, filter="attribute.foo = 1"))
get("rm-search/filter-or", Q(RMS, filter="name = 'a' OR name = 'b'"))
get("rm-search/filter-version", Q(RMS, filter="version_number = 1"))
get("rm-search/max-results-0", Q(RMS, max_results="0"))
get("rm-search/max-results-negative", Q(RMS, max_results="-1"))
get("rm-search/max-results-1001", Q(RMS, max_results="1001"))
get("rm-search/max-results-abc", Q(RMS, max_results="abc"))
get("rm-search/max-results-1", Q(RMS, max_results="1"))
get("rm-search/order-name-desc", Q(RMS, order_by="name DESC"))
get("rm-search/order-timestamp", Q(RMS, order_by="timestamp"))
get("rm-search/order-junk", Q(RMS, order_by="bogus"))
get("rm-search/order-two", Q(RMS, ("order_by", "name"), ("order_by", "last_updated_timestamp DESC")))
get("rm-search/page-token-junk", Q(RMS, page_token="junk"))
post("rm-search/wrong-method-post", RMS, {"max_results": 10})

GLV = A + "/registered-models/get-latest-versions"
post("latest-versions/ok", GLV, {"name": "{model_name}"})
post("latest-versions/stages", GLV, {"name": "{model_name}", "stages": ["None", "Production"]})
post("latest-versions/stages-string", GLV, {"name": "{model_name}", "stages": "None"})
post("latest-versions/stage-bogus", GLV, {"name": "{model_name}", "stages": ["Bogus"]})
post("latest-versions/nonexistent", GLV, {"name": "nope-{sfx}"})
post("latest-versions/missing-name", GLV, {})
get("latest-versions/get", Q(GLV, name="{model_name}"))
get("latest-versions/get-stages", Q(GLV, ("name", "{model_name}"), ("stages", "None"), ("stages", "Staging")))
post("latest-versions/ajax", X + "/registered-models/get-latest-versions", {"name": "{model_name}"})

RST = A + "/registered-models/set-tag"
post("rm-set-tag/ok", RST, {"name": "{model_name}", "key": "k", "value": "v"})
post("rm-set-tag/key-251", RST, {"name": "{model_name}", "key": K251, "value": "v"})
post("rm-set-tag/value-100001", RST, {"name": "{model_name}", "key": "big", "value": "v" * 100001})
post("rm-set-tag/missing-value", RST, {"name": "{model_name}", "key": "k"})
post("rm-set-tag/nonexistent", RST, {"name": "nope-{sfx}", "key": "k", "value": "v"})
post("rm-set-tag/bad-key-chars", RST, {"name": "{model_name}", "key": "a$b", "value": "v"})
RDT = A + "/registered-models/delete-tag"
add("rm-delete-tag/ok", "DELETE", RDT, {"name": "{model_name}", "key": "k"})
add("rm-delete-tag/again", "DELETE", RDT, {"name": "{model_name}", "key": "k"})
add("rm-delete-tag/query-params", "DELETE", Q(RDT, name="{model_name}", key="rt"))
add("rm-delete-tag/nonexistent-model", "DELETE", RDT, {"name": "nope-{sfx}", "key": "k"})
post("rm-delete-tag/wrong-method-post", RDT, {"name": "{model_name}", "key": "k"})

# --------------------------------------------------------------------------- model versions

MVC = A + "/model-versions/create"
post("mv-create/source-artifacts", MVC, {"name": "{model_name}", "source": "mlflow-artifacts:/{exp_id}/{run_id}/artifacts/m",
                                         "run_id": "{run_id}"})
post("mv-create/source-runs-uri", MVC, {"name": "{model_name}", "source": "runs:/{run_id}/model", "run_id": "{run_id}"})
post("mv-create/source-models-uri", MVC, {"name": "{model_name}", "source": "models:/{model_id}", "model_id": "{model_id}"})
post("mv-create/source-models-name-uri", MVC, {"name": "{model_name}", "source": "models:/{model_name}/1"})
post("mv-create/source-s3", MVC, {"name": "{model_name}", "source": "s3://bucket/path"})
post("mv-create/source-empty", MVC, {"name": "{model_name}", "source": ""})
post("mv-create/source-relative", MVC, {"name": "{model_name}", "source": "model"})
post("mv-create/source-dotdot", MVC, {"name": "{model_name}", "source": "s3://bucket/../x"})
post("mv-create/source-absolute-path", MVC, {"name": "{model_name}", "source": "/tmp/somewhere"})
post("mv-create/source-file-uri", MVC, {"name": "{model_name}", "source": "file:///tmp/somewhere"})
post("mv-create/missing-source", MVC, {"name": "{model_name}"})
post("mv-create/missing-name", MVC, {"source": "s3://b/p"})
post("mv-create/nonexistent-model", MVC, {"name": "nope-{sfx}", "source": "s3://b/p"})
post("mv-create/nonexistent-run", MVC, {"name": "{model_name}", "source": "s3://b/p", "run_id": NO_RUN})
post("mv-create/nonexistent-model-id", MVC, {"name": "{model_name}", "source": "models:/" + NO_MODEL, "model_id": NO_MODEL})
post("mv-create/tags-object", MVC, {"name": "{model_name}", "source": "s3://b/p", "tags": {"a": "b"}})
post("mv-create/description-huge", MVC, {"name": "{model_name}", "source": "s3://b/p", "description": "d" * 200000})
post("mv-create/source-number", MVC, {"name": "{model_name}", "source": 5})
transport_edges("mv-create", "POST", MVC, J({"name": "{model_name}", "source": "s3://b/edge"}), full=False)
get("mv-create/wrong-method-get", MVC)

MVG = A + "/model-versions/get"
get("mv-get/ok", Q(MVG, name="{model_name}", version="1"))
get("mv-get/ajax", Q(X + "/model-versions/get", name="{model_name}", version="2"))
get("mv-get/version-abc", Q(MVG, name="{model_name}", version="abc"))
get("mv-get/version-999", Q(MVG, name="{model_name}", version="999"))
get("mv-get/version-0", Q(MVG, name="{model_name}", version="0"))
get("mv-get/version-negative", Q(MVG, name="{model_name}", version="-1"))
get("mv-get/missing-version", Q(MVG, name="{model_name}"))
get("mv-get/missing-name", Q(MVG, version="1"))
get("mv-get/nonexistent-model", Q(MVG, name="nope-{sfx}", version="1"))
post("mv-get/wrong-method-post", MVG, {"name": "{model_name}", "version": "1"})

MVU = A + "/model-versions/update"
add("mv-update/ok", "PATCH", MVU, {"name": "{model_name}", "version": "2", "description": "v2"})
add("mv-update/version-number", "PATCH", MVU, {"name": "{model_name}", "version": 2, "description": "v2b"})
add("mv-update/missing-version", "PATCH", MVU, {"name": "{model_name}", "description": "x"})
add("mv-update/nonexistent", "PATCH", MVU, {"name": "{model_name}", "version": "999", "description": "x"})
add("mv-update/version-abc", "PATCH", MVU, {"name": "{model_name}", "version": "abc", "description": "x"})
post("mv-update/wrong-method-post", MVU, {"name": "{model_name}", "version": "2", "description": "x"})

TS = A + "/model-versions/transition-stage"
post("mv-stage/staging", TS, {"name": "{model_name}", "version": "2", "stage": "Staging", "archive_existing_versions": False})
post("mv-stage/production-archive", TS, {"name": "{model_name}", "version": "2", "stage": "Production",
                                         "archive_existing_versions": True})
post("mv-stage/lowercase", TS, {"name": "{model_name}", "version": "2", "stage": "staging", "archive_existing_versions": False})
post("mv-stage/bogus", TS, {"name": "{model_name}", "version": "2", "stage": "Bogus", "archive_existing_versions": False})
post("mv-stage/deleted-internal", TS, {"name": "{model_name}", "version": "2", "stage": "Deleted_Internal",
                                       "archive_existing_versions": False})
post("mv-stage/missing-archive", TS, {"name": "{model_name}", "version": "2", "stage": "None"})
post("mv-stage/archive-string", TS, {"name": "{model_name}", "version": "2", "stage": "None",
                                     "archive_existing_versions": "yes"})
post("mv-stage/missing-stage", TS, {"name": "{model_name}", "version": "2", "archive_existing_versions": False})
post("mv-stage/nonexistent-version", TS, {"name": "{model_name}", "version": "999", "stage": "Staging",
                                          "archive_existing_versions": False})
get("latest-versions/after-stage", Q(GLV, name="{model_name}"))

MVS = A + "/model-versions/search"
get("mv-search/ok", Q(MVS, filter="name = '{model_name}'", max_results="10000"))
get("mv-search/no-params", MVS)
get("mv-search/ajax", Q(X + "/model-versions/search", filter="name = '{model_name}'"))
get("mv-search/prompt", Q(MVS, filter="name = '{prompt_name}'"))
get("mv-search/run-id", Q(MVS, filter="run_id = '{run_id}'"))
get("mv-search/run-id-in", Q(MVS, filter="run_id IN ('{run_id}', '" + NO_RUN + "')"))
get("mv-search/version-number", Q(MVS, filter="name = '{model_name}' AND version_number > 1"))
get("mv-search/version-number-string", Q(MVS, filter="version_number > 'x'"))
get("mv-search/source-path", Q(MVS, filter="source_path = 's3://bucket/rm2/1'"))
get("mv-search/tag", Q(MVS, filter="tags.vt = 'vv'"))
get("mv-search/filter-dangling", Q(MVS, filter="name ="))
get("mv-search/filter-unknown-attr", Q(MVS, filter="attribute.foo = 1"))
get("mv-search/filter-or", Q(MVS, filter="name = 'a' OR name = 'b'"))
get("mv-search/filter-metrics", Q(MVS, filter="metrics.a > 1"))
get("mv-search/max-results-0", Q(MVS, max_results="0"))
get("mv-search/max-results-200001", Q(MVS, max_results="200001"))
get("mv-search/max-results-abc", Q(MVS, max_results="abc"))
get("mv-search/max-results-1", Q(MVS, filter="name = '{model_name}'", max_results="1"))
get("mv-search/order-version-desc", Q(MVS, filter="name = '{model_name}'", order_by="version_number DESC"))
get("mv-search/order-junk", Q(MVS, order_by="bogus"))
get("mv-search/page-token-junk", Q(MVS, page_token="junk"))
post("mv-search/wrong-method-post", MVS, {"filter": "name = '{model_name}'"})

DU = A + "/model-versions/get-download-uri"
get("mv-download-uri/models-source", Q(DU, name="{model_name}", version="1"))
get("mv-download-uri/artifacts-source", Q(DU, name="{model_name}", version="2"))
get("mv-download-uri/nonexistent", Q(DU, name="{model_name}", version="999"))
get("mv-download-uri/missing-version", Q(DU, name="{model_name}"))
get("mv-download-uri/ajax", Q(X + "/model-versions/get-download-uri", name="{model_name}", version="1"))

MST = A + "/model-versions/set-tag"
post("mv-set-tag/ok", MST, {"name": "{model_name}", "version": "1", "key": "k", "value": "v"})
post("mv-set-tag/nonexistent-version", MST, {"name": "{model_name}", "version": "999", "key": "k", "value": "v"})
post("mv-set-tag/key-251", MST, {"name": "{model_name}", "version": "1", "key": K251, "value": "v"})
post("mv-set-tag/value-100001", MST, {"name": "{model_name}", "version": "1", "key": "big", "value": "v" * 100001})
post("mv-set-tag/missing-version", MST, {"name": "{model_name}", "key": "k", "value": "v"})
MDT = A + "/model-versions/delete-tag"
add("mv-delete-tag/ok", "DELETE", MDT, {"name": "{model_name}", "version": "1", "key": "k"})
add("mv-delete-tag/again", "DELETE", MDT, {"name": "{model_name}", "version": "1", "key": "k"})
add("mv-delete-tag/nonexistent-version", "DELETE", MDT, {"name": "{model_name}", "version": "999", "key": "k"})
add("mv-delete-tag/query-params", "DELETE", Q(MDT, name="{model_name}", version="2", key="vt"))

AS = A + "/registered-models/alias"
post("alias-set/ok", AS, {"name": "{model_name}", "alias": "prod", "version": "2"})
post("alias-set/move", AS, {"name": "{model_name}", "alias": "prod", "version": "1"})
post("alias-set/nonexistent-version", AS, {"name": "{model_name}", "alias": "ghost", "version": "99"})
post("alias-set/nonexistent-model", AS, {"name": "nope-{sfx}", "alias": "a", "version": "1"})
post("alias-set/version-like-alias", AS, {"name": "{model_name}", "alias": "v1", "version": "1"})
post("alias-set/latest", AS, {"name": "{model_name}", "alias": "latest", "version": "1"})
post("alias-set/too-long", AS, {"name": "{model_name}", "alias": "a" * 256, "version": "1"})
post("alias-set/empty", AS, {"name": "{model_name}", "alias": "", "version": "1"})
post("alias-set/bad-chars", AS, {"name": "{model_name}", "alias": "a b", "version": "1"})
post("alias-set/version-number", AS, {"name": "{model_name}", "alias": "numv", "version": 1})
post("alias-set/version-abc", AS, {"name": "{model_name}", "alias": "abcv", "version": "abc"})
post("alias-set/missing-version", AS, {"name": "{model_name}", "alias": "x"})
get("alias-get/ok", Q(AS, name="{model_name}", alias="champ"))
get("alias-get/ajax", Q(X + "/registered-models/alias", name="{model_name}", alias="prod"))
get("alias-get/missing-alias", Q(AS, name="{model_name}", alias="nope"))
get("alias-get/nonexistent-model", Q(AS, name="nope-{sfx}", alias="champ"))
get("alias-get/no-alias-param", Q(AS, name="{model_name}"))
get("rm-get/with-aliases", Q(RMG, name="{model_name}"))
get("mv-get/with-aliases", Q(MVG, name="{model_name}", version="1"))
add("alias-delete/ok", "DELETE", AS, {"name": "{model_name}", "alias": "prod"})
add("alias-delete/again", "DELETE", AS, {"name": "{model_name}", "alias": "prod"})
add("alias-delete/nonexistent-model", "DELETE", AS, {"name": "nope-{sfx}", "alias": "prod"})
add("alias-delete/query-params", "DELETE", Q(AS, name="{model_name}", alias="champ"))
add("alias-delete/missing-alias", "DELETE", AS, {"name": "{model_name}"})
add("alias-set/wrong-method-put", "PUT", AS, {"name": "{model_name}", "alias": "x", "version": "1"})

MVD = A + "/model-versions/delete"
add("mv-delete/ok", "DELETE", MVD, {"name": "{model2_name}", "version": "1"})
add("mv-delete/again", "DELETE", MVD, {"name": "{model2_name}", "version": "1"})
get("mv-delete/get-after", Q(MVG, name="{model2_name}", version="1"))
get("mv-delete/search-after", Q(MVS, filter="name = '{model2_name}'"))
add("mv-delete/missing-version", "DELETE", MVD, {"name": "{model2_name}"})
add("mv-delete/query-params", "DELETE", Q(MVD, name="{model2_name}", version="2"))
post("mv-delete/wrong-method-post", MVD, {"name": "{model2_name}", "version": "2"})
post("mv-create/after-delete", MVC, {"name": "{model2_name}", "source": "s3://bucket/rm2/3"})

RMD = A + "/registered-models/delete"
add("rm-delete/ok", "DELETE", RMD, {"name": "{model3_name}"})
add("rm-delete/again", "DELETE", RMD, {"name": "{model3_name}"})
get("rm-delete/get-after", Q(RMG, name="{model3_name}"))
add("rm-delete/query-params", "DELETE", Q(RMD, name="{model2_name}"))
add("rm-delete/missing-name", "DELETE", RMD, {})
add("rm-delete/empty-body", "DELETE", RMD, "")
add("rm-delete/no-content-type", "DELETE", RMD, J({"name": "nope-{sfx}"}), {})
post("rm-delete/wrong-method-post", RMD, {"name": "{model2_name}"})
add("rm-delete/with-versions", "DELETE", RMD, {"name": "{model2_name}"})
get("rm-delete/versions-after", Q(MVG, name="{model2_name}", version="2"))

# --------------------------------------------------------------------------- artifact proxy

AP = ART + "/artifacts"
add("proxy-put/ok", "PUT", AP + "/{exp_id}/{run_id}/artifacts/up/a.txt", "abc", TEXT_CT)
add("proxy-put/octet", "PUT", AP + "/{exp_id}/{run_id}/artifacts/up/b.bin", b"\x00\x01\x02",
    {"Content-Type": "application/octet-stream"})
add("proxy-put/no-content-type", "PUT", AP + "/{exp_id}/{run_id}/artifacts/up/c.txt", "c", {})
add("proxy-put/empty", "PUT", AP + "/{exp_id}/{run_id}/artifacts/up/empty.txt", "", TEXT_CT)
add("proxy-put/dotdot", "PUT", AP + "/{exp_id}/{run_id}/artifacts/..%2F..%2Fescape.txt", "x", TEXT_CT)
add("proxy-put/ajax", "PUT", "/ajax-api/2.0/mlflow-artifacts/artifacts/{exp_id}/{run_id}/artifacts/up/d.txt", "d", TEXT_CT)
get("proxy-get/ok", AP + "/{exp_id}/{run_id}/artifacts/up/a.txt")
get("proxy-get/missing", AP + "/{exp_id}/{run_id}/artifacts/up/nope.txt")
get("proxy-get/dotdot", AP + "/{exp_id}/..%2F..%2Fetc/passwd")
get("proxy-get/dir", AP + "/{exp_id}/{run_id}/artifacts/up")
get("proxy-list/ok", Q(AP, path="{exp_id}/{run_id}/artifacts/up"))
get("proxy-list/root", AP)
get("proxy-list/missing", Q(AP, path="{exp_id}/nope"))
get("proxy-list/file", Q(AP, path="{exp_id}/{run_id}/artifacts/up/a.txt"))
get("proxy-list/dotdot", Q(AP, path="../"))
get("proxy-list/absolute", Q(AP, path="/etc"))
get("proxy-list/ajax", Q("/ajax-api/2.0/mlflow-artifacts/artifacts", path="{exp_id}/{run_id}/artifacts"))
add("proxy-delete/ok", "DELETE", AP + "/{exp_id}/{run_id}/artifacts/up/c.txt")
add("proxy-delete/missing", "DELETE", AP + "/{exp_id}/{run_id}/artifacts/up/c.txt")
add("proxy-delete/dir", "DELETE", AP + "/{exp_id}/{run_id}/artifacts/up")
post("proxy-mpu/create", ART + "/mpu/create/{exp_id}/{run_id}/artifacts/big.bin", {"path": "big.bin", "num_parts": 2})
post("proxy-mpu/complete", ART + "/mpu/complete/{exp_id}/{run_id}/artifacts/big.bin",
     {"path": "big.bin", "upload_id": "u", "parts": []})
post("proxy-mpu/abort", ART + "/mpu/abort/{exp_id}/{run_id}/artifacts/big.bin", {"path": "big.bin", "upload_id": "u"})
get("proxy-presigned/get", ART + "/presigned/{exp_id}/{run_id}/artifacts/dir/hello.txt")
post("proxy-put/wrong-method-post", AP + "/{exp_id}/{run_id}/artifacts/up/e.txt", "e", TEXT_CT)

get("get-artifact/ok", Q("/get-artifact", run_id="{run_id}", path="dir/hello.txt"))
get("get-artifact/run-uuid", Q("/get-artifact", run_uuid="{run_id}", path="dir/hello.txt"))
get("get-artifact/missing", Q("/get-artifact", run_id="{run_id}", path="nope.txt"))
get("get-artifact/no-path", Q("/get-artifact", run_id="{run_id}"))
get("get-artifact/dotdot", Q("/get-artifact", run_id="{run_id}", path="../../etc/passwd"))
get("mv-get-artifact/ok", Q("/model-versions/get-artifact", name="{model_name}", version="1", path="MLmodel"))
get("mv-get-artifact/missing", Q("/model-versions/get-artifact", name="{model_name}", version="1", path="nope"))

# --------------------------------------------------------------------------- traces (brief)

post("traces-search/v3", "/api/3.0/mlflow/traces/search",
     {"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "{exp_id}"}}],
      "max_results": 100})
post("traces-search/v3-empty", "/api/3.0/mlflow/traces/search", {})
get("traces-search/v2", Q(A + "/traces", experiment_ids="{exp_id}"))
get("traces-get/v3-nonexistent", "/api/3.0/mlflow/traces/tr-0123456789abcdef0123456789abcdef")
get("traces-get/v2-info-nonexistent", A + "/traces/tr-0123456789abcdef0123456789abcdef/info")
post("traces-delete/v3", "/api/3.0/mlflow/traces/delete-traces",
     {"experiment_id": "{exp_id}", "max_timestamp_millis": 1, "max_traces": 10})
post("traces-delete/missing-exp", "/api/3.0/mlflow/traces/delete-traces", {"max_traces": 10})
get("traces-batch-get/nonexistent", Q("/api/3.0/mlflow/traces/batchGet", trace_ids="tr-0123456789abcdef0123456789abcdef"))

# --------------------------------------------------------------------------- misc routes

get("misc/health", "/health")
get("misc/version", "/version")
get("misc/server-info", "/api/3.0/mlflow/server-info")
get("misc/server-info-ajax", "/ajax-api/3.0/mlflow/server-info")
get("misc/webhooks-list", A + "/webhooks")
get("unknown/mlflow-endpoint", A + "/nope")
post("unknown/mlflow-endpoint-post", A + "/nope", {})
get("unknown/runs-subpath", A + "/runs/nope")
post("unknown/experiments-root", A + "/experiments", {})
get("unknown/api-2-1", Q("/api/2.1/mlflow/runs/get", run_id="{run_id}"))
get("unknown/api-3-0-runs-get", Q("/api/3.0/mlflow/runs/get", run_id="{run_id}"))
get("unknown/trailing-slash", Q(A + "/runs/get/", run_id="{run_id}"))
get("unknown/mlflow-root", A + "/")
get("unknown/api-root", "/api/2.0/")
get("unknown/ajax-mlflow-endpoint", X + "/nope")
get("unknown/double-slash", Q("/api/2.0/mlflow//runs/get", run_id="{run_id}"))
get("unknown/uppercase-path", Q("/api/2.0/mlflow/Runs/Get", run_id="{run_id}"))
add("unknown/options", "OPTIONS", A + "/runs/get")
add("unknown/head-get-endpoint", "HEAD", Q(RG, run_id="{run_id}"))
