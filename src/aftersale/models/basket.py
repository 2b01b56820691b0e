"""Association rules for cross-sell: exact frequent itemsets from sparse basket-by-item matrices.

Level ``k`` keeps the frequent ``k``-itemsets and their basket incidence ``T_k``; all one-item
extensions are counted at once by the sparse product ``T_k.T @ X`` (``X`` basket-by-item), so the
itemsets and rules are exact, as from Apriori/FP-growth, with no loop over baskets. Thresholds as
arules/mlxtend: ``count / n >= min_support``, ``confidence >= min_confidence``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import chain, combinations
from typing import Any, NamedTuple, Self

import numpy as np
import pandas as pd
import polars as pl
import scipy.sparse as sp
from numpy.typing import NDArray

from aftersale.errors import InvalidInputError, NotFittedError, SchemaError

__all__ = ["RECOMMENDATION_COLUMNS", "RULE_COLUMNS", "BasketRules"]

IntArray = NDArray[np.int64]
RULE_COLUMNS = (
    "antecedents", "consequents", "antecedent_support", "consequent_support", "support",
    "confidence", "lift", "leverage", "conviction", "count",
)  # fmt: skip
RECOMMENDATION_COLUMNS = (
    "customer_id", "rank", "item", "antecedents", "consequents", "confidence", "lift", "support",
)  # fmt: skip
_SIDES = ("antecedents", "consequents")
_PAIR_BUDGET = 4_000_000  # rows of the row-wise join materialised at once (bounds memory)


def _columns(frame: Any, name: str, cols: tuple[str, str]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Two columns of a pandas/polars frame as numpy arrays, naming ``name`` when they are bad."""
    if isinstance(frame, pl.DataFrame):
        found = list(frame.columns)
    elif isinstance(frame, pd.DataFrame):
        found = [str(c) for c in frame.columns]
    else:
        raise InvalidInputError(
            f"'{name}' must be a pandas or polars DataFrame with columns {cols[0]!r}, {cols[1]!r}; "
            f"got {type(frame).__name__}"
        )
    missing = [c for c in cols if c not in found]
    if missing:
        raise SchemaError(
            f"Column(s) {', '.join(map(repr, missing))} missing from '{name}'; expected columns: "
            f"{', '.join(cols)} (found: {', '.join(found)})",
            missing=missing,
            found=found,
        )
    if isinstance(frame, pl.DataFrame):
        out = [frame.get_column(c).to_numpy() for c in cols]
    else:
        out = [frame[c].to_numpy() for c in cols]
    for col, values in zip(cols, out, strict=True):
        _no_nulls(col, name, bool(len(values)) and bool(pd.isna(values).any()))
    return out[0], out[1]


def _no_nulls(col: str, name: str, has_nulls: bool) -> None:
    """Raise, naming the column of ``name``, when it holds nulls (they are no item or basket)."""
    if has_nulls:
        raise InvalidInputError(f"Column {col!r} of '{name}' holds nulls; drop those rows first")


def _encode_polars(
    frame: pl.DataFrame, cols: tuple[str, str]
) -> tuple[IntArray, IntArray, NDArray[Any]]:
    """Basket codes, sorted item codes and item labels of a polars frame, computed in polars."""
    _columns(frame.head(0), "baskets", cols)  # names the missing columns
    for col in cols:
        _no_nulls(col, "baskets", frame.get_column(col).null_count() > 0)
    baskets = frame.get_column(cols[0]).rank("dense").cast(pl.Int64) - 1
    items = frame.get_column(cols[1])
    labels = items.unique().sort()
    if items.dtype == pl.String:  # a hash lookup: much faster than ranking strings
        codes = items.cast(pl.Enum(labels)).to_physical().cast(pl.Int64)
    else:
        codes = items.rank("dense").cast(pl.Int64) - 1
    return baskets.to_numpy(), codes.to_numpy(), np.asarray(labels.to_numpy(), object)


def _factorize(values: NDArray[Any]) -> tuple[IntArray, NDArray[Any]]:
    """Integer codes and labels, labels sorted when they are comparable (so tuples come sorted)."""
    try:
        codes, labels = pd.factorize(values, sort=True)
    except TypeError:  # mixed, unorderable labels: keep first-seen order
        codes, labels = pd.factorize(values, sort=False)
    return codes.astype(np.int64), np.asarray(labels, dtype=object)


def _incidence(rows: IntArray, cols: IntArray, shape: tuple[int, int]) -> sp.csr_array:
    """0/1 int32 CSR matrix with a one at every (row, col), duplicates collapsed."""
    mat = sp.csr_array((np.ones(len(rows), np.int32), (rows, cols)), shape=shape)
    mat.sum_duplicates()
    mat.data[:] = 1
    return mat


def _join_rows(
    a: sp.csr_array, b: sp.csr_array, start: int, stop: int
) -> tuple[IntArray, IntArray, IntArray]:
    """(row, column of a, column of b) for every pair of entries sharing a row in [start, stop)."""
    a_ptr, b_ptr = a.indptr.astype(np.int64), b.indptr.astype(np.int64)
    rows = np.repeat(np.arange(start, stop), np.diff(a_ptr[start : stop + 1]))
    reps = b_ptr[rows + 1] - b_ptr[rows]
    a_pos = np.repeat(np.arange(a_ptr[start], a_ptr[stop]), reps)
    block = np.repeat(np.cumsum(reps) - reps, reps)
    b_pos = np.repeat(b_ptr[rows], reps) + np.arange(len(a_pos)) - block
    return np.repeat(rows, reps), a.indices[a_pos].astype(np.int64), b.indices[b_pos]


class _RulePart(NamedTuple):
    """Rules sharing one itemset length and consequent positions: item indices and counts."""

    antecedents: IntArray
    consequents: IntArray
    rule_count: IntArray
    antecedent_count: IntArray
    consequent_count: IntArray


class BasketRules:
    """Association rules (support, confidence, lift) from baskets, for cross-sell offers.

    Parameters
    ----------
    min_support : float
        Smallest share of baskets an itemset (antecedents plus consequents) must appear in.
    min_confidence : float
        Smallest P(consequents | antecedents) of a kept rule.
    max_len : int or None
        Most items per rule (antecedents plus consequents); None for no limit.
    max_consequent_len : int or None
        Most items per consequent; 1 (the default) as in arules, None for all splits (mlxtend).

    Examples
    --------
    >>> baskets = [["milk", "bread"], ["milk", "bread", "eggs"], ["milk", "eggs"], ["bread"]]
    >>> model = BasketRules(min_support=0.5, min_confidence=0.6).fit(baskets)
    >>> model.rules_[["antecedents", "consequents", "confidence", "lift"]].to_dict("records")[0]
    {'antecedents': ('eggs',), 'consequents': ('milk',), 'confidence': 1.0,
     'lift': 1.3333333333333333}
    >>> owned = pd.DataFrame({"customer_id": ["c1"], "item": ["bread"]})
    >>> bought = pd.DataFrame({"customer_id": ["c1"], "item": ["eggs"]})
    >>> model.recommend(owned, bought)[["customer_id", "rank", "item", "lift"]].values.tolist()
    [['c1', 1, 'milk', 1.3333333333333333]]
    """

    rules_: pd.DataFrame
    itemsets_: pd.DataFrame
    n_baskets_: int
    labels_: NDArray[Any]

    def __init__(
        self,
        min_support: float = 0.001,
        min_confidence: float = 0.5,
        max_len: int | None = None,
        max_consequent_len: int | None = 1,
    ) -> None:
        self.min_support, self.min_confidence = min_support, min_confidence
        self.max_len, self.max_consequent_len = max_len, max_consequent_len

    def _check_params(self) -> None:
        """Collect every bad setting, then raise once naming each."""
        bad: list[str] = []
        if not (isinstance(self.min_support, int | float) and 0 < self.min_support <= 1):
            bad.append(f"min_support must be in (0, 1], got {self.min_support!r}")
        if not (isinstance(self.min_confidence, int | float) and 0 <= self.min_confidence <= 1):
            bad.append(f"min_confidence must be in [0, 1], got {self.min_confidence!r}")
        for name in ("max_len", "max_consequent_len"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                bad.append(f"{name} must be a positive integer or None, got {value!r}")
        if bad:
            raise InvalidInputError("invalid BasketRules settings: " + "; ".join(bad))

    def fit(self, baskets: Any, *, basket_col: str = "basket_id", item_col: str = "item") -> Self:
        """Mine frequent itemsets and rules from (basket, item) pairs or a list of item lists."""
        self._check_params()
        if isinstance(baskets, pl.DataFrame):
            basket_codes, item_codes, labels = _encode_polars(baskets, (basket_col, item_col))
            n = int(basket_codes.max()) + 1 if len(basket_codes) else 0
        elif isinstance(baskets, pd.DataFrame):
            ids, items = _columns(baskets, "baskets", (basket_col, item_col))
            basket_codes, _ = pd.factorize(ids)
            item_codes, labels = _factorize(items)
            n = int(basket_codes.max()) + 1 if len(basket_codes) else 0
        elif isinstance(baskets, Sequence) and not isinstance(baskets, str | bytes):
            sizes = np.fromiter((len(b) for b in baskets), np.int64, len(baskets))
            basket_codes = np.repeat(np.arange(len(baskets)), sizes)
            items = np.array([*chain.from_iterable(baskets), None], dtype=object)[:-1]
            item_codes, labels = _factorize(items)
            n = len(baskets)
        else:
            raise InvalidInputError(
                f"'baskets' must be a DataFrame of ({basket_col}, {item_col}) pairs or a list of "
                f"item lists; got {type(baskets).__name__}"
            )
        if n == 0:
            raise InvalidInputError("'baskets' holds no baskets; nothing to learn rules from")
        x = _incidence(basket_codes.astype(np.int64), item_codes, (n, len(labels)))
        first = max(1, math.ceil(self.min_support * n) - 1)  # float-exact, as mlxtend compares
        min_count = next(c for c in range(first, first + 3) if c / n >= self.min_support)
        keep = np.flatnonzero(np.asarray(x.sum(axis=0)).ravel() >= min_count)
        self._mine(sp.csr_array(x[:, keep]), min_count)
        self.n_baskets_, self.labels_ = n, labels[keep]
        self._make_tables()
        return self

    def _mine(self, x: sp.csr_array, min_count: int) -> None:
        """Level-wise exact mining: count all extensions by a sparse product, keep the frequent."""
        m = x.shape[1]
        self._levels: list[IntArray] = [np.arange(m, dtype=np.int64)[:, None]]
        self._keys: list[IntArray] = [np.arange(m, dtype=np.int64)]
        self._counts: list[IntArray] = [np.asarray(x.sum(axis=0)).ravel().astype(np.int64)]
        incidence, max_len = x, self.max_len or m
        while len(self._levels) < max_len and len(self._keys[-1]):
            items = self._levels[-1]
            counts = sp.coo_array(incidence.T.tocsr() @ x)
            parent, item = counts.row.astype(np.int64), counts.col.astype(np.int64)
            ok = (item > items[parent, -1]) & (counts.data >= min_count)
            keys = parent[ok] * m + item[ok]
            order = np.argsort(keys, kind="stable")
            keys, support = keys[order], counts.data[ok][order].astype(np.int64)
            if not len(keys):
                break
            self._levels.append(np.column_stack([items[keys // m], keys % m]))
            self._keys.append(keys)
            self._counts.append(support)
            if len(self._levels) < max_len:
                incidence = self._next_incidence(incidence, x, keys)

    def _next_incidence(self, t: sp.csr_array, x: sp.csr_array, keys: IntArray) -> sp.csr_array:
        """Basket-by-itemset matrix of the new level: rows of ``t`` joined with ``x``, in chunks."""
        n, m = x.shape
        last = self._levels[-2][:, -1]
        pairs = np.cumsum(np.diff(t.indptr).astype(np.int64) * np.diff(x.indptr))
        rows_out: list[IntArray] = []
        cols_out: list[IntArray] = []
        start = 0
        while start < n:
            done = pairs[start - 1] if start else 0
            stop = max(start + 1, int(np.searchsorted(pairs, done + _PAIR_BUDGET, "right")))
            row, parent, item = _join_rows(t, x, start, min(stop, n))
            sel = item > last[parent]
            key = parent[sel] * m + item[sel]
            pos = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
            hit = keys[pos] == key
            rows_out.append(row[sel][hit])
            cols_out.append(pos[hit])
            start = stop
        rows, cols = np.concatenate(rows_out), np.concatenate(cols_out)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
        return sp.csr_array((np.ones(len(cols), np.int32), cols, indptr), shape=(n, len(keys)))

    def _count_of(self, rows: IntArray) -> IntArray:
        """Basket counts of frequent itemsets given as sorted rows of item indices."""
        idx = rows[:, 0]
        m = len(self._keys[0])
        for col in range(1, rows.shape[1]):
            idx = np.searchsorted(self._keys[col], idx * m + rows[:, col])
        counts: IntArray = self._counts[rows.shape[1] - 1][idx]
        return counts

    def _make_tables(self) -> None:
        """Build ``itemsets_`` and ``rules_`` (sorted by lift, confidence, support) from levels."""
        n, labels = self.n_baskets_, self.labels_
        self.itemsets_ = pd.DataFrame(
            {
                "itemsets": [tuple(r) for lv in self._levels for r in labels[lv].tolist()],
                "support": np.concatenate(self._counts) / n,
                "count": np.concatenate(self._counts),
                "length": np.concatenate([np.full(len(lv), lv.shape[1]) for lv in self._levels]),
            }
        )
        parts: list[_RulePart] = []
        for k, (items, count) in enumerate(zip(self._levels, self._counts, strict=True), 1):
            for size in range(1, min(k - 1, self.max_consequent_len or k) + 1):
                for cons_pos in combinations(range(k), size):
                    cons = np.array(cons_pos, dtype=np.int64)
                    ante = np.setdiff1d(np.arange(k), cons)
                    a_count = self._count_of(items[:, ante])
                    ok = count / a_count >= self.min_confidence
                    kept = items[ok]
                    c_count = self._count_of(kept[:, cons])
                    parts.append(
                        _RulePart(kept[:, ante], kept[:, cons], count[ok], a_count[ok], c_count)
                    )
        self._build_rules(parts)

    def _build_rules(self, parts: Sequence[_RulePart]) -> None:
        """Rules frame plus the sparse antecedent/consequent matrices ``recommend`` needs."""
        n, labels, m = self.n_baskets_, self.labels_, len(self.labels_)
        none, no_rows = np.zeros(0, np.int64), np.zeros((0, 1), np.int64)
        parts = [*parts, _RulePart(no_rows, no_rows, none, none, none)]
        count = np.concatenate([p.rule_count for p in parts])
        a_count = np.concatenate([p.antecedent_count for p in parts])
        a_sup = a_count / n
        c_sup = np.concatenate([p.consequent_count for p in parts]) / n
        support, confidence = count / n, count / a_count
        with np.errstate(divide="ignore", invalid="ignore"):
            conviction = np.where(confidence < 1, (1 - c_sup) / (1 - confidence), np.inf)
        lift = confidence / c_sup
        order = np.lexsort((-support, -confidence, -lift))
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        offsets = np.cumsum([0, *(len(p.rule_count) for p in parts)])
        mats = []
        for side in _SIDES:
            blocks = [getattr(p, side) for p in parts]
            rows = np.concatenate(
                [
                    np.repeat(np.arange(len(b)) + o, b.shape[1])
                    for b, o in zip(blocks, offsets, strict=False)
                ]
            )
            cols = np.concatenate([b.ravel() for b in blocks])
            mats.append(_incidence(rank[rows], cols, (len(order), m)))
        self._antecedents, self._consequents = mats
        tuples = [
            [tuple(r) for p in parts for r in labels[getattr(p, side)].tolist()] for side in _SIDES
        ]
        numbers = {"antecedent_support": a_sup, "consequent_support": c_sup, "support": support,
                   "confidence": confidence, "lift": lift, "leverage": support - a_sup * c_sup,
                   "conviction": conviction, "count": count}  # fmt: skip
        self.rules_ = pd.DataFrame(
            {
                "antecedents": [tuples[0][i] for i in order],
                "consequents": [tuples[1][i] for i in order],
            }
            | {name: values[order] for name, values in numbers.items()},
            columns=list(RULE_COLUMNS),
        )

    def recommend(
        self,
        owned: Any,
        purchased: Any,
        top_k: int = 5,
        *,
        customer_col: str = "customer_id",
        item_col: str = "item",
    ) -> pd.DataFrame:
        """Per customer, the ``top_k`` items that complement the just-purchased basket.

        A rule fires when all its antecedents are in the customer's ``purchased`` items; its
        consequents are offered unless the customer owns them (``owned``) or just bought them.
        Each item keeps its best rule; items rank by lift, then confidence, then support. Customers
        with nothing to offer are absent.
        """
        if getattr(self, "rules_", None) is None:
            msg = "BasketRules is not fitted yet, so recommend cannot run: call fit(baskets) first"
            raise NotFittedError(msg)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise InvalidInputError(f"top_k must be a positive integer, got {top_k!r}")
        cols = (customer_col, item_col)
        p_cust, p_item = _columns(purchased, "purchased", cols)
        o_cust, o_item = _columns(owned, "owned", cols)
        m, vocab = len(self.labels_), pd.Index(self.labels_)
        cust, customers = pd.factorize(p_cust)
        p_code = vocab.get_indexer(p_item)
        o_cust_code, o_code = pd.Index(customers).get_indexer(o_cust), vocab.get_indexer(o_item)
        known = p_code >= 0
        basket = _incidence(cust[known].astype(np.int64), p_code[known], (len(customers), m))
        hits = sp.coo_array(basket @ self._antecedents.T)
        need = np.diff(self._antecedents.indptr)
        fired = hits.data == need[hits.col]
        pair_cust, pair_rule = hits.row[fired].astype(np.int64), hits.col[fired].astype(np.int64)
        offers = sp.coo_array(self._consequents[pair_rule])
        c, rule = pair_cust[offers.row], pair_rule[offers.row]
        item = offers.col.astype(np.int64)
        mine = (o_cust_code >= 0) & (o_code >= 0)
        blocked = np.concatenate(
            [cust[known] * m + p_code[known], o_cust_code[mine] * m + o_code[mine]]
        )
        keep = ~np.isin(c * m + item, blocked)
        c, rule, item = c[keep], rule[keep], item[keep]
        order = np.lexsort((item, rule, c))  # rules_ rows are already best-first
        c, rule, item = c[order], rule[order], item[order]
        _, first = np.unique(c * m + item, return_index=True)
        first.sort()
        c, rule, item = c[first], rule[first], item[first]
        group_start = np.searchsorted(c, c)
        rank = np.arange(len(c)) - group_start + 1
        top = rank <= top_k
        best = self.rules_.iloc[rule[top]]
        out = pd.DataFrame(best[list(RECOMMENDATION_COLUMNS[3:])]).reset_index(drop=True)
        out.insert(0, "item", self.labels_[item[top]])
        out.insert(0, "rank", rank[top])
        out.insert(0, "customer_id", np.asarray(customers)[c[top]])
        return out
