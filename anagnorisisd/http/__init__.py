"""The HTTP face: the aiohttp app, its guard and errors, one module per resource, OpenAPI."""
