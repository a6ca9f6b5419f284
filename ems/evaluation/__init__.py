"""``python -m ems evaluate``: the seed study's evaluation (report section 4.3, appendix C) regenerated on the
shipped real data, each measured figure beside the seed's claim (see :mod:`ems.evaluation.pipeline`)."""
