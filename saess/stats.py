"""Small statistics shared by training (validation) and evaluation, low in the package."""

from __future__ import annotations


def auroc(pos: list[float], neg: list[float]) -> float:
    """P(score of a random positive > score of a random negative), ties count half (Mann-Whitney)."""
    if not pos or not neg:
        return float("nan")
    allv = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    ranks = [0.0] * len(allv)  # average ranks for ties
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1][0] == allv[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    rpos = sum(r for r, (_, y) in zip(ranks, allv, strict=True) if y == 1)
    n1, n0 = len(pos), len(neg)
    return (rpos - n1 * (n1 + 1) / 2) / (n1 * n0)
