"""Composing the Hydra configuration and instantiating objects from it.

Every ``hydra.utils.instantiate`` in ems goes through :func:`instantiate`, so
that a future execution whitelist (Hydra 1.4/1.5) has one place to live.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
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
    if not OmegaConf.has_resolver("ems_run_id"):
        # A short random id, drawn once per composed config (cached, and copied with Hydra's sweep configs
        # like ${now:}): it makes run and sweep folders unique even when two start in the same second.
        OmegaConf.register_new_resolver("ems_run_id", lambda: secrets.token_hex(3), use_cache=True)


_register_resolvers()


def load_config(overrides: list[str] | None = None, config_name: str = "config") -> DictConfig:
    """Compose the experiment config as ``run.py`` would, without running it (Hydra's compose API).

    Inside a running Hydra app (``run.py``) the app's own Hydra composes it.
    """
    if GlobalHydra.instance().is_initialized():
        return compose(config_name=config_name, overrides=list(overrides or []))
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides or []))


def override_key(override: str) -> str:
    """The config key an override names: ``+mode.w_prob=0.5`` -> ``mode.w_prob``."""
    return override.lstrip("+~").split("=", 1)[0]


def instantiate(node: Any, where: str | None = None, **kwargs: Any) -> Any:
    """Instantiate a config node with ``_target_``; ``None`` or an empty node (a ``none`` option) gives ``None``.

    The single entry point for building objects from config in ems. A
    parameter check that fails raises one line naming the key (``where`` is
    the node's config key, e.g. ``battery``), for our ValueErrors and for the
    pydantic records alike.
    """
    if node is None or (hasattr(node, "keys") and len(node) == 0):
        return None
    try:
        return _hydra_instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__
        from pydantic import ValidationError

        if isinstance(cause, ValidationError):
            from ems.messages import one_line

            line = one_line(cause.errors(include_url=False)[0])
            raise ValueError(f"{where}.{line}" if where else line) from None
        # Our classes validate their parameters with one-line ValueErrors naming the key: show that, not Hydra's wrapper.
        if isinstance(cause, ValueError):
            raise cause from None
        unknown = re.search(r"unexpected keyword argument '([^']+)'", str(cause)) if isinstance(cause, TypeError) else None
        if unknown is not None:
            raise ValueError(_unknown_key(node, unknown.group(1), where)) from None
        raise


def _unknown_key(node: Any, key: str, where: str | None) -> str:
    """One line for a key the ``_target_`` does not take: the key, the nearest known one, or the known ones."""
    import difflib
    import inspect

    from hydra.utils import get_class

    known = [p for p in inspect.signature(get_class(node["_target_"])).parameters if not p.startswith("_")]
    near = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {near[0]}?" if near else f"known keys: {', '.join(known)}"
    return f"{where + '.' if where else ''}{key}: unknown key ({hint})"
