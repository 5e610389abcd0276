"""The stage registry (entry points, config) and the runner that moves files through stages."""
