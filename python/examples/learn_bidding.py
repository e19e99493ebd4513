"""Households learn to bid against zero-intelligence neighbours; their money against truthful bidding.

    python python/examples/learn_bidding.py [--agents N] [--episodes N] [--days N] [--rules a,b]

Every household of the village bids zero-intelligence constrained (Gode and Sunder: a random
price each step between the export and the import price) except N learners, the households with
the most PV (they buy at night and sell by day). A learner is a tabular bandit: its arms are
markups (mb, ma) of the spread, bid at 1 − mb and ask at ma (as fractions of the spread from the
export to the import price: (0, 0) is truthful); each training episode it plays one arm for the
whole episode, chosen epsilon-greedily, and scores it by its money less what truthful bidding
earned it on the same seed (a second episode with every learner truthful: the same weather, loads
and neighbours' draws). After training, each learner plays its best arm on an unseen seed; the
table compares its money with truthful bidding on that seed, under each rule: in the uniform-price
double auction truthful bidding is close to the best a household can do (the learners find
little or nothing), under pay-as-bid shading the bid pays.
"""

import argparse
import itertools
from pathlib import Path

import numpy as np

import peergrid
from peergrid.env import MarketEnv

ROOT = Path(__file__).resolve().parents[2]
MARKUPS = (0.0, 0.1, 0.2, 0.35, 0.5)
ARMS = list(itertools.product(MARKUPS, MARKUPS))

parser = argparse.ArgumentParser()
parser.add_argument("--agents", type=int, default=10)
parser.add_argument("--episodes", type=int, default=60)
parser.add_argument("--days", type=int, default=7)
parser.add_argument("--rules", default="double-auction,pay-as-bid")
args = parser.parse_args()

village = peergrid.Scenario.load(ROOT / "scenarios" / "village.ron").set("households[0].bidding", "ZeroIntelligence")
steps = args.days * 24 * 60 // village.step_minutes
pv = peergrid.run(village, steps=steps, threads=1).households.to_pandas().sort_values("pv_kwh", ascending=False)
agents = list(pv["household"][: args.agents])
currency = village.currency or ""


def episode(env: MarketEnv, seed: int, arms: dict) -> dict:
    """Each agent's money over an episode, bidding at its arm's markups all along."""
    env.reset(seed=seed)
    actions = {a: (1.0 - mb, ma) for a, (mb, ma) in arms.items()}
    money = dict.fromkeys(agents, 0.0)
    while env.agents:
        _, rewards, *_ = env.step(actions)
        for a in agents:
            money[a] += rewards[a]
    return money


def train_and_test(rule: str) -> None:
    env = MarketEnv(village, agents, rule=rule, steps=steps)
    truthful_arm = ARMS.index((0.0, 0.0))
    rng = np.random.default_rng(0)
    value = {a: np.zeros(len(ARMS)) for a in agents}
    plays = {a: np.zeros(len(ARMS)) for a in agents}
    for e in range(args.episodes):
        epsilon = max(0.1, 1.0 - e / (0.6 * args.episodes))
        chosen = {a: int(rng.integers(len(ARMS))) if rng.random() < epsilon else int(np.argmax(value[a])) for a in agents}
        seed = 1 + e
        played = episode(env, seed, {a: ARMS[k] for a, k in chosen.items()})
        truthful = episode(env, seed, {a: ARMS[truthful_arm] for a in agents})
        for a, k in chosen.items():
            plays[a][k] += 1
            value[a][k] += (played[a] - truthful[a] - value[a][k]) / plays[a][k]

    best = {a: int(np.argmax(np.where(plays[a] > 0, value[a], -np.inf))) for a in agents}
    test_seed = 10_000
    learned = episode(env, test_seed, {a: ARMS[k] for a, k in best.items()})
    truthful = episode(env, test_seed, {a: ARMS[truthful_arm] for a in agents})
    print(f"\n{rule}: {args.agents} learners against zero-intelligence neighbours, {args.episodes} training episodes of {args.days} days;")
    print(f"test on seed {test_seed} (money in {currency}, + is received):")
    print(f"{'household':>10} {'arm (bid, ask markup)':>22} {'truthful':>10} {'learned':>10} {'gain':>7}")
    for a in agents:
        mb, ma = ARMS[best[a]]
        print(f"{a:>10} {f'({mb:.2f}, {ma:.2f})':>22} {truthful[a]:>10.2f} {learned[a]:>10.2f} {learned[a] - truthful[a]:>+7.2f}")
    gain = sum(learned.values()) - sum(truthful.values())
    print(f"all learners: {sum(learned.values()):.2f} learned against {sum(truthful.values()):.2f} truthful ({gain:+.2f} {currency} over {args.days} days)")


for rule in args.rules.split(","):
    train_and_test(rule)
