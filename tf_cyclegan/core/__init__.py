"""What every wing shares: the run's config, errors, names of directions, folder layouts, files, pixels."""
