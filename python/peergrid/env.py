"""A learning environment: households that set their own bid and ask prices.

``MarketEnv`` is a PettingZoo ``ParallelEnv``: its agents are chosen households (by default all),
every other household bids with the strategy its scenario gives it (truthful, zero-intelligence
or a markup). ``HouseholdEnv`` is the single-agent Gymnasium ``Env`` of one household.

- **Action** (``Box(0, 1, (2,))``): the bid and the ask, each as a fraction of the step's spread
  between the export price (0) and the import price (1). Truthful bidding is ``(1, 0)``: bid the
  import price, ask the export price. The limits apply to whatever the household brings to the
  market that step (deficit, PV surplus, flexible loads; its battery asks at the scenario's
  battery price); a household with nothing to trade ignores its action.
- **Observation** (``Box(-1e6, 1e6, (9,), float32)``), after each step, in the order of
  ``OBSERVATION``: the household's PV and load (kWh, the load with what its flexible devices
  took), its net need (deficit − surplus after own use, battery and flexible devices, kWh), its battery's state of charge (0–1; 0 without one); the step's import and
  export price (currency per kWh); the step's published market figures: the volume-weighted
  mean price of all trades (0 when nothing traded) and the energy traded (kWh); and the local
  time of day of the next step (0–1). ``reset`` returns zeros but for the time of day.
- **Reward**: the change in the household's money over the step, in currency (what it was paid
  less what it paid: peers, the grid, fees), so an episode's return is minus its bill.
- **Episodes** run the scenario's steps (or ``steps``) and end by truncation. ``reset(seed)``
  loads the scenario with that seed (the weather, loads and neighbours' draws follow from it);
  the same seed and actions give the same episode, bit for bit. Without a seed an episode takes
  one more than the last episode's (the scenario's own seed for the first), so a training loop
  that never passes one sees a new, reproducible sequence of episodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from . import _peergrid, _rule_name
from ._peergrid import Scenario

#: The observation's fields, in order.
OBSERVATION: tuple[str, ...] = tuple(_peergrid.OBSERVATION)
#: Bounds of every observed value: far beyond any household's step (kWh, prices per kWh).
OBSERVATION_BOUND = 1e6
#: Truthful bidding as an action.
TRUTHFUL = (1.0, 0.0)


def _scenario(scenario: "Scenario | str | Path") -> Scenario:
    return scenario if isinstance(scenario, Scenario) else Scenario.load(str(scenario))


class MarketEnv(ParallelEnv):
    """Households of a scenario bidding in its market (see the module's documentation).

    ``agents``: household ids (default: all). ``rule``: the trading rule, a name or a Python
    rule (default the scenario's). ``steps``: episode length (default the scenario's).
    ``episode_steps`` is the number of steps in an episode. In ``step``, an agent missing from
    the actions bids truthfully; a key that is not an agent is an error.
    """

    metadata = {"name": "peergrid_market_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, scenario: "Scenario | str | Path", agents: Sequence[str] | None = None, *, rule: Any = None, steps: int | None = None, render_mode: str | None = None):
        self.scenario = _scenario(scenario)
        if isinstance(agents, str):
            agents = [agents]
        self.possible_agents = list(agents) if agents is not None else self.scenario.households
        rule = _rule_name(rule)
        self.agents: list[str] = []
        self.render_mode = render_mode
        self._session = _peergrid.Session(self.scenario, self.possible_agents, rule=rule, steps=steps)
        self._observation_space = spaces.Box(-OBSERVATION_BOUND, OBSERVATION_BOUND, shape=(len(OBSERVATION),), dtype=np.float32)
        self._action_space = spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)
        self.episode_steps = self._session.episode_steps
        self._agent_set = set(self.possible_agents)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Box:
        return self._action_space

    def _split(self, flat: list[float]) -> dict[str, np.ndarray]:
        rows = np.asarray(flat, dtype=np.float32).reshape(len(self.possible_agents), len(OBSERVATION))
        return dict(zip(self.possible_agents, rows))

    def reset(self, seed: int | None = None, options: dict | None = None):
        flat = self._session.reset(seed)
        self.agents = list(self.possible_agents)
        return self._split(flat), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        unknown = set(actions) - self._agent_set
        if unknown:
            raise KeyError(f"actions for {sorted(unknown)[0]!r}, which is not an agent")
        chosen = []
        for a in self.possible_agents:
            act = actions.get(a, TRUTHFUL)
            chosen.append((float(act[0]), float(act[1])))
        flat, rewards, done = self._session.step(chosen)
        obs = self._split(flat)
        agents = self.agents
        rew = dict(zip(self.possible_agents, rewards))
        terminations = {a: False for a in agents}
        truncations = {a: done for a in agents}
        infos = {a: {} for a in agents}
        if done:
            self.agents = []
        return obs, rew, terminations, truncations, infos

    def render(self):
        return None

    def close(self):
        pass


class HouseholdEnv(gymnasium.Env):
    """One household of a scenario learning to bid; all others bid with the strategies their
    scenario gives them (see the module's documentation)."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: "Scenario | str | Path", household: str, *, rule: Any = None, steps: int | None = None):
        self.household = household
        self._env = MarketEnv(scenario, [household], rule=rule, steps=steps)
        self.observation_space = self._env.observation_space(household)
        self.action_space = self._env.action_space(household)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, infos = self._env.reset(seed=seed)
        return obs[self.household], infos[self.household]

    def step(self, action):
        obs, rew, term, trunc, infos = self._env.step({self.household: action})
        h = self.household
        return obs[h], float(rew[h]), term[h], trunc[h], infos[h]
