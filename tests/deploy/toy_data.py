#!/usr/bin/env python3
"""Writes a small generic-layout data set (items.csv + interactions.csv) into DIR.

The same shape as tests/testing/toy_registry.cc's WriteToyData: 60 items m0..m59
in three taste clusters (SciFi / Romance / Crime, cluster = index % 3), 90 users
u0..u89 (cluster = index % 3) who mostly consume their cluster's items in order.
Deterministic (fixed seed), so every run trains the same bundle.

  toy_data.py DIR
"""
import os
import random
import sys


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    words = ["space robots laser galaxy", "love wedding romance kiss",
             "murder detective crime clue"]
    cats = ["SciFi", "Romance", "Crime"]
    with open(os.path.join(out, "items.csv"), "w", encoding="utf-8") as f:
        f.write("item,title,text,category\n")
        for i in range(60):
            f.write(f'm{i},"Movie {i}, part {i % 7}",{words[i % 3]} w{i},{cats[i % 3]}\n')
    rng = random.Random(7)
    with open(os.path.join(out, "interactions.csv"), "w", encoding="utf-8") as f:
        f.write("user,item,timestamp,weight\n")
        for u in range(90):
            cluster = u % 3
            n = 8 + rng.randrange(8)
            start = rng.randrange(10)
            for e in range(n):
                item = rng.randrange(60) if rng.randrange(10) == 0 else cluster + 3 * ((start + e) % 20)
                f.write(f"u{u},m{item},{1500000000 + u * 1000 + e * 60},1\n")
    with open(os.path.join(out, "users.txt"), "w", encoding="utf-8") as f:
        f.write("".join(f"u{u}\n" for u in range(90)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
