"""The learning environment: PettingZoo's and Gymnasium's own checkers, and determinism."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

import peergrid
from peergrid.env import OBSERVATION, TRUTHFUL, HouseholdEnv, MarketEnv


def test_the_parallel_env_passes_pettingzoos_api_test(village):
    env = MarketEnv(village, ["v001", "v002", "v050", "v120"], steps=96)
    parallel_api_test(env, num_cycles=200)


def test_the_single_household_env_passes_gymnasiums_checker(village):
    check_env(HouseholdEnv(village, "v010", steps=96), skip_render_check=True)


def episode(env, seed, policy_seed):
    rng = np.random.default_rng(policy_seed)
    obs, _ = env.reset(seed=seed)
    trace = [np.stack([obs[a] for a in env.possible_agents])]
    total = {a: 0.0 for a in env.possible_agents}
    while env.agents:
        actions = {a: rng.random(2, dtype=np.float32) for a in env.agents}
        obs, rew, term, trunc, _ = env.step(actions)
        trace.append(np.stack([obs[a] for a in env.possible_agents]))
        for a, r in rew.items():
            total[a] += r
    return np.stack(trace), total


def test_an_episode_is_deterministic_for_a_seed(village):
    env = MarketEnv(village, ["v001", "v002", "v003"], steps=96)
    a, ra = episode(env, seed=7, policy_seed=1)
    b, rb = episode(env, seed=7, policy_seed=1)
    assert np.array_equal(a, b) and ra == rb
    assert a.shape == (97, 3, len(OBSERVATION))
    c, _ = episode(env, seed=8, policy_seed=1)
    assert not np.array_equal(a, c)
    # Another environment object, same seed: the same episode.
    d, rd = episode(MarketEnv(village, ["v001", "v002", "v003"], steps=96), seed=7, policy_seed=1)
    assert np.array_equal(a, d) and ra == rd


def test_truthful_agents_are_the_scenarios_truthful_run_and_rewards_are_their_money(village):
    """Agents that bid truthfully reproduce `run` (whose households bid truthfully), and an
    episode's rewards add up to minus each household's bill."""
    agents = ["v001", "v002", "v003", "v004"]
    env = MarketEnv(village, agents, steps=96)
    env.reset()
    totals = {a: 0.0 for a in agents}
    while env.agents:
        _, rew, *_ = env.step({a: TRUTHFUL for a in agents})
        for a in agents:
            totals[a] += rew[a]
    bills = peergrid.run(village, steps=96).households.to_pandas().set_index("household")["bill"]
    for a in agents:
        assert totals[a] == pytest.approx(-bills[a] / 1e6, abs=1e-9)


def test_bad_agents_and_actions_are_refused(village):
    with pytest.raises(peergrid.ScenarioError, match="not a household"):
        MarketEnv(village, ["nobody"])
    env = MarketEnv(village, ["v001"], steps=4)
    with pytest.raises(RuntimeError, match="reset"):
        env._session.step([(1.0, 0.0)])
    env.reset()
    with pytest.raises(ValueError, match="finite"):
        env.step({"v001": (float("nan"), 0.0)})


def test_episodes_without_a_seed_follow_on_from_the_last(village):
    env = MarketEnv(village, ["v001"], steps=24)
    first, _ = episode(env, seed=None, policy_seed=1)
    scenario_seed, _ = episode(MarketEnv(village, ["v001"], steps=24), seed=peergrid.Scenario.load(village).seed, policy_seed=1)
    assert np.array_equal(first, scenario_seed)
    second, _ = episode(env, seed=None, policy_seed=1)
    following, _ = episode(env, seed=peergrid.Scenario.load(village).seed + 1, policy_seed=1)
    assert np.array_equal(second, following) and not np.array_equal(first, second)


def test_one_agent_by_name_a_python_rule_and_unknown_actions(village):
    from peergrid.reference import KDoubleAuction

    env = MarketEnv(village, "v001", rule=KDoubleAuction, steps=4)
    assert env.possible_agents == ["v001"]
    env.reset(seed=1)
    with pytest.raises(KeyError, match="v01"):
        env.step({"v01": TRUTHFUL})
    # Missing from the actions: the agent bids truthfully, and still gets its reward.
    _, rewards, *_ = env.step({})
    assert set(rewards) == {"v001"}
