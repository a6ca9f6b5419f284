"""Composing the Hydra configuration and instantiating objects from it.

Every ``hydra.utils.instantiate`` in ems goes through :func:`instantiate`, so
that a future execution whitelist (Hydra 1.4/1.5) has one place to live.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.errors import InstantiationException
from hydra.utils import instantiate as _hydra_instantiate
from omegaconf import DictConfig, OmegaConf

#: Repository root: the folder that holds ``conf/``, ``data/`` and ``run.py``.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def project_root() -> Path:
    """The project root; ``EMS_ROOT`` overrides the checkout this package lives in."""
    return Path(os.environ.get("EMS_ROOT", PROJECT_ROOT)).resolve()


def config_dir() -> Path:
    """Absolute path of the Hydra config directory (``<root>/conf``)."""
    return project_root() / "conf"


def _register_resolvers() -> None:
    if not OmegaConf.has_resolver("ems_root"):
        OmegaConf.register_new_resolver("ems_root", lambda: str(project_root()))


_register_resolvers()


def load_config(overrides: list[str] | None = None, config_name: str = "config") -> DictConfig:
    """Compose the experiment config as ``run.py`` would, without running it."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides or []))


def instantiate(node: Any, **kwargs: Any) -> Any:
    """Instantiate a config node with ``_target_``; ``None`` stays ``None``.

    The single entry point for building objects from config in ems. A
    parameter check that fails raises its own one-line ``ValueError``.
    """
    if node is None:
        return None
    try:
        return _hydra_instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as exc:
        # Our classes validate their parameters with one-line ValueErrors naming the key: show that, not Hydra's wrapper.
        if isinstance(exc.__cause__, ValueError):
            raise exc.__cause__ from None
        raise


def group_option(group: str, option: str) -> Any:
    """The node that ``group=option`` puts at ``group`` (reads ``conf/<group>/<option>.yaml``).

    Handles options written as ``# @package _global_`` overlays that set the
    group's key (e.g. ``battery: null``).
    """
    path = config_dir() / group / f"{option}.yaml"
    if not path.is_file():
        choices = ", ".join(sorted(p.stem for p in (config_dir() / group).glob("*.yaml")))
        raise ValueError(f"{group}={option}: no such option (conf/{group}/ has {choices})")
    node = OmegaConf.load(path)
    if path.read_text().lstrip().startswith("# @package _global_"):
        return node.get(group)
    return node
