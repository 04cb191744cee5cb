"""Results: the dataset layout and netCDF files, compare, plots and parameter sweeps."""
