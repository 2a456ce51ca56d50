"""The PromQL expressions recsys's deploy/ ships, for tests to evaluate.

  dashboard_exprs(path)  every target expr of the Grafana dashboard, with
                         Grafana's $__rate_interval replaced by RATE_INTERVAL
  rule_exprs(paths)      (kind, name, expr) for every recording rule (its expr
                         and its recorded series) and every alert (the value
                         terms of its expr, see alert_value_terms)

How an alert is evaluated without its threshold: alerts.yml keeps every alert
expression in the shape `VALUE op THRESHOLD [and|or|unless VALUE op THRESHOLD]...`
with op one of == != > < >= <=. alert_value_terms() scans the expression once,
tracking (), {}, [] nesting and quoted strings; at nesting depth 0 it splits on
the set operators and/or/unless, then cuts each term at its depth-0 comparison
operator (with an optional `bool` modifier and on(...)/ignoring(...)/group_*
clause after it) and returns the left side, the VALUE. Label matchers (=~, !=
inside {...}) and comparisons inside parentheses (e.g. `count(x == 1) > 1`) are
at depth > 0 and so stay part of VALUE. A term without exactly one depth-0
comparison raises ValueError: the convention is enforced, not assumed.
"""
import json
import re

import yaml

RATE_INTERVAL = "1m"
_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")
_SET_OPS = ("and", "or", "unless")


def _scan(expr):
    """Yields (index, char, depth) for every character outside quoted strings."""
    depth = 0
    quote = None
    i = 0
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
            i += 1
            continue
        if c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        else:
            yield i, c, depth
        i += 1


def _split_set_ops(expr):
    cuts = []
    for i, c, depth in _scan(expr):
        if depth != 0 or not c.isalpha():
            continue
        for op in _SET_OPS:
            end = i + len(op)
            if (expr[i:end] == op and (i == 0 or not (expr[i - 1].isalnum() or expr[i - 1] in "_:"))
                    and (end == len(expr) or not (expr[end].isalnum() or expr[end] in "_:"))):
                cuts.append((i, end))
    terms, start = [], 0
    for i, end in cuts:
        if i < start:
            continue
        terms.append(expr[start:i])
        # Skip a vector-matching clause right after the operator: on(...), ignoring(...).
        rest = expr[end:]
        m = re.match(r"\s*(on|ignoring)\s*\([^)]*\)\s*", rest)
        start = end + (m.end() if m else 0)
    terms.append(expr[start:])
    return [t.strip() for t in terms]


def alert_value_terms(expr):
    """The VALUE side of each `VALUE op THRESHOLD` term of an alert expression."""
    values = []
    for term in _split_set_ops(" ".join(expr.split())):
        found = []
        skip_to = -1
        for i, c, depth in _scan(term):
            if i < skip_to or depth != 0:
                continue
            for op in _COMPARISONS:
                if term.startswith(op, i):
                    # "=~" / "!~" are label-matcher operators (only inside {}), never here.
                    found.append(i)
                    skip_to = i + len(op)
                    break
        if len(found) != 1:
            raise ValueError(f"term {term!r}: expected one top-level comparison, found {len(found)}")
        values.append(term[:found[0]].strip())
    return values


def dashboard_exprs(path):
    """(panel title, expr) of every query of the Grafana dashboard (rows included)."""
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p.get("title", "?"), t["expr"].replace("$__rate_interval", RATE_INTERVAL)))
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    return out


def rule_exprs(paths):
    """(kind, name, expr): recording rules give their expr and their series name;
    alerts give each value term (kind "alert-value") and the full expr ("alert")."""
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        for group in doc["groups"]:
            for rule in group["rules"]:
                expr = " ".join(rule["expr"].split())
                if "record" in rule:
                    out.append(("record-expr", rule["record"], expr))
                    out.append(("record-series", rule["record"], rule["record"]))
                else:
                    for v in alert_value_terms(expr):
                        out.append(("alert-value", rule["alert"], v))
                    out.append(("alert", rule["alert"], expr))
    return out
