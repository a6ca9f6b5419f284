"""What a household needs on one day (from a metered day or a building's typical profile)."""
