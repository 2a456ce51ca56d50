#!/usr/bin/python3
"""Writes the evaluation report: an HTML page with PNG figures.

    scripts/report.py --leaderboard out/leaderboard.json \
        [--report_data out/report-data.json] --out out/report

Inputs are what `recsys-train` writes with `--json` (the leaderboard: one row
per split and model, with 95% intervals) and `--report_data` (per-source recall
by list depth, each source's share of the final lists, the calibration of the
click probability, the ranker's weights). Without --report_data only the
leaderboard figures are drawn. Any extra numeric field of the leaderboard rows
(e.g. diversity or novelty) becomes a column of the table and a figure.

Figures (matplotlib, Debian's python3-matplotlib):
  metrics.png      recall@k and NDCG@k per model and split, with 95% intervals
  beyond.png       the leaderboard's beyond-accuracy fields per model (if any)
  depth.png        each source's recall by list depth, the pool's recall
  shares.png       each source's share of the final top-k slots
  weights.png      the ranker's weight per feature (standardised units)
  calibration.png  predicted vs observed click rate over the pools

Exit status: 0 written, 2 bad input (a missing or malformed file; the message
says which field).
"""
import argparse
import html
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402

# Leaderboard fields that are not a metric to draw.
KEY_FIELDS = {"split", "model", "k", "users"}
CORE = ["recall", "ndcg", "map", "coverage"]


class BadInput(Exception):
    pass


def load_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise BadInput(f"cannot read the {what} {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        raise BadInput(f"the {what} {path} is not JSON: {e}")


def check_leaderboard(rows, path):
    if not isinstance(rows, list) or not rows:
        raise BadInput(f"{path}: expected a non-empty JSON array of leaderboard rows")
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise BadInput(f"{path}: row {i} is not an object")
        for field in ("split", "model"):
            if not isinstance(r.get(field), str):
                raise BadInput(f"{path}: row {i} has no string field '{field}'")
        for field in ("recall", "ndcg"):
            v = r.get(field)
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise BadInput(f"{path}: row {i} ({r['split']} {r['model']}) has no finite '{field}'")
    return rows


def check_report_data(d, path):
    if not isinstance(d, dict):
        raise BadInput(f"{path}: expected a JSON object")
    for field, kind in (("depths", list), ("sources", list), ("calibration", list),
                        ("ranker", dict), ("pool", dict)):
        if not isinstance(d.get(field), kind):
            raise BadInput(f"{path}: missing or malformed '{field}'")
    n = len(d["depths"])
    for s in d["sources"]:
        if not isinstance(s, dict) or not isinstance(s.get("source"), str):
            raise BadInput(f"{path}: a source entry has no name")
        if len(s.get("recall_at_depth", [])) != n:
            raise BadInput(f"{path}: source {s['source']} has {len(s.get('recall_at_depth', []))} "
                           f"recall values for {n} depths")
    return d


def extra_fields(rows):
    """Numeric fields beyond the core metrics and intervals, in first-seen order."""
    out = []
    for r in rows:
        for key, v in r.items():
            if key in KEY_FIELDS or key in CORE or key.endswith("_ci95") or key in out:
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(key)
    return out


def models_in_order(rows):
    seen = []
    for r in rows:
        if r["model"] not in seen:
            seen.append(r["model"])
    return seen


def fig_metrics(rows, out_dir):
    models = models_in_order(rows)
    splits = [s for s in ("validation", "test") if any(r["split"] == s for r in rows)]
    by = {(r["split"], r["model"]): r for r in rows}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / max(len(splits), 1)
    for ax, metric in zip(axes, ("recall", "ndcg")):
        for j, split in enumerate(splits):
            xs, ys, errs = [], [], []
            for i, m in enumerate(models):
                r = by.get((split, m))
                if r is None or m == "pool":  # the pool's recall is at its size, not k
                    continue
                xs.append(i + (j - (len(splits) - 1) / 2) * width)
                ys.append(r[metric])
                errs.append(r.get(metric + "_ci95", 0.0))
            ax.bar(xs, ys, width, yerr=errs, capsize=2, label=split)
        k = rows[0].get("k", 10)
        ax.set_title(f"{metric}@{k} (95% interval over users)")
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(models, rotation=45, ha="right")
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "metrics.png"), dpi=100)
    plt.close(fig)
    return "metrics.png"


def fig_beyond(rows, fields, out_dir):
    if not fields:
        return None
    models = [m for m in models_in_order(rows) if m != "pool"]
    test = {r["model"]: r for r in rows if r["split"] == "test"} or \
        {r["model"]: r for r in rows}
    fig, axes = plt.subplots(1, len(fields), figsize=(4 * len(fields), 4), squeeze=False)
    for ax, field in zip(axes[0], fields):
        ms = [m for m in models if isinstance(test.get(m, {}).get(field), (int, float))]
        ax.bar(range(len(ms)), [test[m][field] for m in ms])
        ax.set_title(field + " (test)")
        ax.set_xticks(range(len(ms)))
        ax.set_xticklabels(ms, rotation=45, ha="right")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "beyond.png"), dpi=100)
    plt.close(fig)
    return "beyond.png"


def fig_depth(d, out_dir):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s in d["sources"]:
        # null: deeper than the source was asked for
        pts = [(x, y) for x, y in zip(d["depths"], s["recall_at_depth"]) if y is not None]
        ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=s["source"])
    pool = d["pool"]
    ax.scatter([pool["mean_size"]], [pool["recall"]], marker="*", s=150, color="black",
               label=f"pool ({pool['mean_size']:.0f} items)", zorder=5)
    ax.set_xscale("log")
    ax.set_xlabel("list depth (items asked of the source)")
    ax.set_ylabel("recall (held-out item in the list)")
    ax.set_title(f"Recall by depth, {d.get('split', '')} cases")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "depth.png"), dpi=100)
    plt.close(fig)
    return "depth.png"


def fig_shares(d, out_dir):
    names = [s["source"] for s in d["sources"]]
    share = [s.get("final_share", 0.0) for s in d["sources"]]
    only = [s.get("final_only_share", 0.0) for s in d["sources"]]
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], share, 0.4, label="retrieved it (shared)")
    ax.bar([x + 0.2 for x in xs], only, 0.4, label="only source that retrieved it")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=45, ha="right")
    ax.set_ylabel(f"share of the final top-{d.get('k', 10)} slots")
    ax.set_title("Where the final lists come from")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "shares.png"), dpi=100)
    plt.close(fig)
    return "shares.png"


def fig_weights(d, out_dir):
    weights = d["ranker"].get("weights", [])
    if not weights:
        return None
    names = [w["feature"] for w in weights]
    values = [w["weight"] for w in weights]
    fig, ax = plt.subplots(figsize=(7, max(4, 0.22 * len(names))))
    ys = range(len(names))
    ax.barh(list(ys), values, color=["tab:blue" if v >= 0 else "tab:red" for v in values])
    ax.set_yticks(list(ys))
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_xlabel("weight per standard deviation of the feature")
    ax.set_title("Ranker: " + d["ranker"].get("final", ""))
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "weights.png"), dpi=100)
    plt.close(fig)
    return "weights.png"


def fig_calibration(d, out_dir):
    bins = [b for b in d["calibration"] if b.get("count", 0) > 0]
    if not bins:
        return None
    pred = [max(b["mean_predicted"], 1e-7) for b in bins]
    obs = [b["observed"] for b in bins]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([1e-7, 1], [1e-7, 1], color="grey", linestyle="--", label="perfect calibration")
    size = [10 + 3 * math.sqrt(b["count"]) for b in bins]
    hit = [i for i, o in enumerate(obs) if o > 0]
    miss = [i for i, o in enumerate(obs) if o <= 0]
    ax.scatter([pred[i] for i in hit], [obs[i] for i in hit], s=[size[i] for i in hit],
               label="bins (area ~ candidates)")
    if miss:  # a log axis has no 0: drawn at the floor
        ax.scatter([pred[i] for i in miss], [1e-7] * len(miss), marker="v", facecolors="none",
                   edgecolors="tab:red", s=[size[i] for i in miss], label="bins without a positive")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mean predicted click probability")
    ax.set_ylabel("observed rate (held-out item)")
    ax.set_title("Calibration over the candidate pools")
    ax.legend(fontsize=8, markerscale=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "calibration.png"), dpi=100)
    plt.close(fig)
    return "calibration.png"


def table(rows, fields):
    head = ["split", "model", "recall", "ndcg", "map", "coverage"] + fields + ["users"]
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for r in rows:
        cells = [r["split"], r["model"]]
        for m in ("recall", "ndcg", "map"):
            v = r.get(m)
            ci = r.get(m + "_ci95")
            cells.append("" if v is None else
                         (f"{v:.4f} ± {ci:.4f}" if isinstance(ci, (int, float)) else f"{v:.4f}"))
        for f in ["coverage"] + fields:
            v = r.get(f)
            cells.append(f"{v:.4f}" if isinstance(v, (int, float)) else "")
        cells.append(str(r.get("users", "")))
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def write_report(rows, data, out_dir, title):
    os.makedirs(out_dir, exist_ok=True)
    fields = extra_fields(rows)
    figures = [("Accuracy with 95% intervals", fig_metrics(rows, out_dir)),
               ("Beyond accuracy", fig_beyond(rows, fields, out_dir))]
    if data is not None:
        figures += [("Recall by list depth, per source", fig_depth(data, out_dir)),
                    ("Each source's share of the final lists", fig_shares(data, out_dir)),
                    ("Ranker feature weights", fig_weights(data, out_dir)),
                    ("Calibration of the click probability", fig_calibration(data, out_dir))]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
             "td:nth-child(-n+2){text-align:left}img{max-width:100%}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             "<p>Leave-last-out protocol: each user's last event is the test case and the one "
             "before it the validation case; models never see either while training. "
             "Intervals are 95% over users.</p>",
             "<h2>Leaderboard</h2>", table(rows, fields)]
    if data is not None:
        final = data["ranker"].get("final", "")
        parts.append(f"<p>Served list: <b>{html.escape(final)}</b>; pool of "
                     f"{data['pool']['mean_size']:.0f} candidates on average, recall "
                     f"{data['pool']['recall']:.3f} ({data.get('cases', '?')} "
                     f"{html.escape(str(data.get('split', '')))} cases).</p>")
    for caption, name in figures:
        if name:
            parts.append(f"<h2>{html.escape(caption)}</h2><img src='{name}' alt='{caption}'>")
    parts.append("</body></html>\n")
    path = os.path.join(out_dir, "index.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return path, [n for _, n in figures if n]


def main(argv):
    p = argparse.ArgumentParser(description="Write the evaluation report (HTML + PNG).")
    p.add_argument("--leaderboard", required=True, help="recsys-train --json output")
    p.add_argument("--report_data", help="recsys-train --report_data output (optional)")
    p.add_argument("--out", required=True, help="directory for index.html and the figures")
    p.add_argument("--title", default="recsys evaluation report")
    a = p.parse_args(argv)
    try:
        rows = check_leaderboard(load_json(a.leaderboard, "leaderboard"), a.leaderboard)
        data = None
        if a.report_data:
            data = check_report_data(load_json(a.report_data, "report data"), a.report_data)
        path, figures = write_report(rows, data, a.out, a.title)
    except BadInput as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 2
    print(f"report.py: wrote {path} with {len(figures)} figures ({', '.join(figures)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
