"""ems: config-driven experiment runner for building energy management.

Time conventions used throughout the package: readings and prices are stored
per UTC hour (naive ``TIMESTAMP`` values that mean UTC); experiments work on
Europe/Berlin local calendar days, which have 23 hours on the spring DST
change and 25 hours on the autumn change. Energies are kWh per step, powers
kW, prices EUR/kWh unless a name says EUR/MWh.
"""

__version__ = "0.1.0"
