"""Learning when devices are used: priors, PMFs, predictors."""
