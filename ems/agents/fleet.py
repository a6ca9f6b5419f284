"""A house's batteries and EVs from config: the single groups (``battery=home``, ``ev=home``) or the lists
(``batteries: [...]``, ``evs: [...]``), each entry its own agent with its own name, SOC and sessions.

A list entry names a preset of the group (``preset: home``, the default: ``conf/battery/home.yaml`` or
``conf/ev/home.yaml``) and carries only its deltas over it, e.g.::

    batteries:
      - {name: garage}
      - {name: cellar, capacity_kwh: 5.0, max_charge_kw: 2.5, max_discharge_kw: 2.5}

An entry without a ``name`` is called ``battery1``, ``battery2``, ... (``ev1``, ...) by its position. Each
EV reads its own EV meter (``meter``; with one EV it may be left null: every EV meter of the building).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from ems.agents.battery import BatteryAgent
from ems.agents.ev import EVAgent
from ems.building import Building
from ems.config import config_dir, instantiate

#: list key -> (the single group it replaces, the agent class, the preset an entry defaults to)
LISTS: dict[str, tuple[str, type, str]] = {"batteries": ("battery", BatteryAgent, "home"),
                                          "evs": ("ev", EVAgent, "home")}


def agents(cfg: DictConfig, key: str, single: Any) -> list:
    """The agents of ``cfg[key]`` (a list of entries; null: ``[single]`` when the single group is set)."""
    group, cls, default = LISTS[key]
    entries = cfg.get(key)
    if entries is None:
        return [] if single is None else [single]
    if not isinstance(entries, ListConfig):
        raise ValueError(f"{key}: expected a list of {group} entries (see ems/experiment/fleet.py), got "
                         f"{type(entries).__name__}")
    if single is not None:
        raise ValueError(f"{key}: the list replaces the {group} group; run with {group}=none when listing {key}")
    out, names = [], set()
    for i, entry in enumerate(entries):
        where = f"{key}[{i}]"
        if not isinstance(entry, DictConfig):
            raise ValueError(f"{where}: expected a mapping of {group} keys (e.g. {{name: garage}}), got {entry!r}")
        plain = OmegaConf.to_container(entry, resolve=True)
        preset = plain.pop("preset", default)
        path = config_dir() / group / f"{preset}.yaml"
        if not path.is_file() or preset == "none":
            known = sorted(p.stem for p in (config_dir() / group).glob("*.yaml") if p.stem != "none")
            raise ValueError(f"{where}.preset={preset!r}: no such {group} preset (known: {', '.join(known)})")
        node = OmegaConf.merge(OmegaConf.load(path), {"name": f"{group}{i + 1}"}, plain)
        try:
            agent = instantiate(node, where=where)
        except ValueError as exc:  # the agent names its group's key (battery.x); the list entry is where it is
            text = str(exc)
            raise ValueError(where + text[len(group):] if text.startswith(f"{group}.") else text) from None
        if not isinstance(agent, cls):
            raise ValueError(f"{where}: {type(agent).__name__} is not a {cls.__name__} (check {where}._target_)")
        if agent.name in names:
            raise ValueError(f"{where}.name: {agent.name!r} appears twice in {key}; give each its own name")
        names.add(agent.name)
        out.append(agent)
    return out


def check_fleet(batteries: list[BatteryAgent], evs: list[EVAgent], building: Building) -> None:
    """Every battery and EV has its own name, and each EV reads its own EV meter of ``building`` (two cars on
    one meter would count its charging twice)."""
    names: dict[str, str] = {}
    for key, group in (("batteries", batteries), ("evs", evs)):
        for agent in group:
            if agent.name in names or agent.name == "grid":
                raise ValueError(f"{key}: the name {agent.name!r} is taken ({names.get(agent.name, 'the grid')}); "
                                 f"give each battery and EV its own name")
            names[agent.name] = key
    for ev in evs:
        if ev.meter is not None and ev.meter not in building.devices_of("ev"):
            raise ValueError(f"{ev.name}.meter={ev.meter!r}: not an EV meter of {building.id} (its EV meters: "
                             f"{', '.join(building.devices_of('ev')) or 'none'})")
    if len(evs) < 2:
        return
    seen: dict[str, str] = {}
    for ev in evs:
        if ev.meter is None:
            raise ValueError(f"evs: {ev.name}.meter is null; with several EVs each names its own EV meter of "
                             f"{building.id} (its EV meters: {', '.join(building.devices_of('ev')) or 'none'})")
        if ev.meter in seen:
            raise ValueError(f"evs: {ev.name} and {seen[ev.meter]} both read meter {ev.meter!r}; each EV needs its "
                             f"own EV meter")
        seen[ev.meter] = ev.name
