"""Reference trading rules written in Python: what a rule must do to match a built-in one exactly.

``KDoubleAuction`` is the built-in ``double-auction`` (src/market/double_auction.rs) step for
step: the same merit order, tie-breaks, matching loop and price arithmetic, so a run with it gives
the same trades and bills to the micro-unit. Copy it as the start of your own rule.
"""

from __future__ import annotations

#: Orders and matches below this energy are dust, kWh (the core's MIN_TRADE_KWH).
MIN_TRADE_KWH = 1e-9


def bid_key(order) -> tuple:
    """Merit order of bids: highest limit first, ties by household index (a household's several
    bids of equal limit keep their book order: sort stably)."""
    return (-order.limit_micros, order.household)


def ask_key(order) -> tuple:
    """Merit order of asks: lowest limit first, PV before battery, ties by household index."""
    return (order.limit_micros, order.source != "pv", order.household)


def merit_order_matches(book) -> list[tuple[int, int, float]]:
    """Walks bids and asks in merit order while the best remaining bid covers the best remaining
    ask; returns (bid position, ask position, kWh) in the book as given. A partially matched order
    continues with the next counterpart; quantities below ``MIN_TRADE_KWH`` are not matched."""
    bids = sorted(range(len(book.bids)), key=lambda i: bid_key(book.bids[i]))
    asks = sorted(range(len(book.asks)), key=lambda j: ask_key(book.asks[j]))
    matches = []
    i = j = 0
    bid_left = book.bids[bids[0]].kwh if bids else 0.0
    ask_left = book.asks[asks[0]].kwh if asks else 0.0
    while i < len(bids) and j < len(asks) and book.bids[bids[i]].limit_micros >= book.asks[asks[j]].limit_micros:
        q = min(bid_left, ask_left)
        if q > MIN_TRADE_KWH:
            matches.append((bids[i], asks[j], q))
        bid_left -= q
        ask_left -= q
        if bid_left <= MIN_TRADE_KWH:
            i += 1
            bid_left = book.bids[bids[i]].kwh if i < len(bids) else 0.0
        if ask_left <= MIN_TRADE_KWH:
            j += 1
            ask_left = book.asks[asks[j]].kwh if j < len(asks) else 0.0
    return matches


class KDoubleAuction:
    """Uniform-price k-double auction: every match clears at ``a + k·(b − a)`` micro-units per
    kWh, between the last matched ask's limit ``a`` and the last matched bid's limit ``b``
    (computed in floating point exactly as the core does; payments are rounded once from it)."""

    name = "py-double-auction"

    def __init__(self, k: float = 0.5):
        self.k = k

    def clear(self, book) -> list[tuple[int, int, float, float]]:
        matches = merit_order_matches(book)
        if not matches:
            return []
        last_bid, last_ask, _ = matches[-1]
        a = book.asks[last_ask].limit_micros
        b = book.bids[last_bid].limit_micros
        price = float(a) + self.k * float(b - a)
        return [(i, j, kwh, price) for i, j, kwh in matches]
