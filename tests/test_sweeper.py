"""The project's Optuna sweeper: Hydra's sweep syntax to Optuna distributions, and a resumed study continuing."""

from __future__ import annotations

import sqlite3

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hydra_plugins.ems_optuna_sweeper.sweeper import search_space

from conftest import run_cli


def test_hydra_sweep_syntax_becomes_optuna_distributions():
    distributions, fixed = search_space([
        "a=interval(0.1, 0.3)", "b=tag(log, interval(1e-3, 1.0))", "c=tag(int, interval(5, 50))", "c2=interval(5, 50)", "d=choice(x, y, z)",
        "e=1,2,4", "f=range(0, 10, 3)", "g=range(0.0, 1.0, 0.5)", "h=7", "a=interval(0.2, 0.4)"])
    assert distributions == {
        "a": FloatDistribution(0.2, 0.4),  # the later override wins, as on Hydra's command line
        "b": FloatDistribution(1e-3, 1.0, log=True),
        "c": IntDistribution(5, 50),
        "c2": FloatDistribution(5.0, 50.0),  # Hydra parses an interval's ends as floats
        "d": CategoricalDistribution(["x", "y", "z"]),
        "e": CategoricalDistribution([1, 2, 4]),
        "f": IntDistribution(0, 9, step=3),
        "g": CategoricalDistribution([0.0, 0.5]),
    }
    assert fixed == {"h": "7"}
    _, fixed = search_space(["a=interval(0, 1)", "a=0.5"])
    assert fixed == {"a": "0.5"}


def test_a_resumed_study_draws_new_parameters(shipped_db, tmp_path):
    common = ["run.py", "-m", "sweep=surcharge_check", "experiment=smoke", "hydra.sweeper.n_trials=3",
              f"paths.output_dir={tmp_path}", f"paths.db={shipped_db}"]

    def params() -> list[float]:
        with sqlite3.connect(tmp_path / "optuna.db") as con:
            return [v for (v,) in con.execute("SELECT p.param_value FROM trials t JOIN trial_params p USING (trial_id) "
                                              "WHERE t.state = 'COMPLETE' ORDER BY t.number")]

    run_cli(*common, check=True)
    first = params()
    run_cli(*common, check=True)
    both = params()
    assert len(first) == 3 and both[:3] == first and len(both) == 6
    assert not set(both[3:]) & set(first)  # the seeded sampler did not start over
