"""civicgrid core: settings, errors, the CLI and the ASGI app that ties the parts together."""
