"""The engine as a service: an HTTP and WebSocket API (aiohttp) in the engine's own loop.

``server.Gateway`` serves ``routes`` (REST under /api/v1) and ``stream`` (the WebSocket event
stream) for an engine built by ``runtime.wiring``; ``auth`` and ``tokens`` decide who may call
it; ``openapi`` describes it from the same declarations. It imports the core and the runtime,
never the terminal app: the app attaches to it as one more client.
"""
